"""``python -m d2l_ch6.exercises`` (as ``python -m d2l_ch6 exercises``)."""
from ..core import cli
from .report import main

cli.run(main)
