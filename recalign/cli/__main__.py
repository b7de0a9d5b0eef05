"""``python -m recalign.cli`` (used by launchers: ``deepspeed --module``, ``torchrun -m``)."""
from . import main

main()
