"""The optional compiled parts: matcalc/_philox.c (the large draws) and matcalc/_fastcpu.c (CPU
loops of matcalc.fast). Without a C compiler the install still succeeds: matcalc.philox then
uses its numpy reference, which gives the same values, and matcalc.fast its torch loops."""

from setuptools import Extension, setup

# -ffp-contract=off: the draw's bits are defined without fused multiply-add (matcalc/philox.py)
FLAGS = ["-O3", "-ffp-contract=off", "-fno-math-errno"]

setup(
    ext_modules=[
        Extension(f"matcalc.{name}", [f"matcalc/{name}.c"], extra_compile_args=FLAGS, optional=True)
        for name in ("_philox", "_fastcpu")
    ]
)
