"""The one compiled part of mdrive: the thermo-row scanner of mdrive.logs (see mdrive/_rowscan.c).

Optional: where no C compiler is present the install goes on and mdrive.logs reads rows in Python.
"""
from setuptools import Extension, setup

setup(ext_modules=[Extension("mdrive._rowscan", ["mdrive/_rowscan.c"], optional=True,
                             extra_compile_args=["-O2"])])
