"""The model: rules, domains, sizes, and finding the rules in a user's module."""
