"""The optional compiled draw (matcalc/_philox.c); without a C compiler the install still
succeeds and matcalc.philox uses its numpy reference, which gives the same values."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "matcalc._philox",
            ["matcalc/_philox.c"],
            # the draw's bits are defined without fused multiply-add (see matcalc/philox.py)
            extra_compile_args=["-O3", "-ffp-contract=off", "-fno-math-errno"],
            optional=True,
        )
    ]
)
