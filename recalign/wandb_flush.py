"""Finish a wandb run so that its files are complete on disk when we return.

``wandb.finish()`` only *informs* the wandb-core service that the run is over; the service
writes and closes ``run-*.wandb`` afterwards, asynchronously. A caller that reads or syncs the
offline run right away (a test, ``wandb sync`` in a script) could see a file holding only its
7-byte header — seen on a loaded CI machine. ``wandb.teardown()`` waits for the service to
shut down, which closes every stream; the next ``wandb.init`` starts a fresh service.
"""
from __future__ import annotations


def finish_wandb(run=None) -> None:
    """Finish ``run`` (default: the active run, if any) and wait until wandb has written it.

    >>> finish_wandb()            # no active run: only waits for a running service, if any
    """
    import wandb

    run = run if run is not None else wandb.run
    if run is not None:
        run.finish()
    if wandb.run is None:          # leave a caller's other active run alone
        wandb.teardown()
