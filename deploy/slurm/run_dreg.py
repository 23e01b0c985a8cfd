"""Run ``dreg fit`` on a SLURM allocation with dask-jobqueue's ``SLURMRunner``.

Every task of the allocation runs this same script (``srun python run_dreg.py``);
``SLURMRunner`` gives each task a role from its ``SLURM_PROCID``:

* rank 0 starts the Dask scheduler, which writes its address to the scheduler
  file on the shared filesystem;
* rank 1 is the client: it leaves the ``with`` block's constructor once the
  scheduler file exists and runs ``dreg fit`` against that scheduler;
* every other rank is a Dask worker.

The scheduler and worker ranks never reach the body of the ``with`` block:
they serve until the client leaves it, which shuts the scheduler down, and the
workers with it.  The client records dreg's exit code (0 ok, 1 unexpected,
2 configuration, 3 bad data, 4 cluster, 5 not promoted) in ``--exit-code-file``
and exits with it, so ``dreg-fit.sbatch`` can report it exactly.

TLS: when Dask's configuration names certificates
(``DASK_DISTRIBUTED__COMM__TLS__CA_FILE``, ``..._SCHEDULER__CERT`` and so on,
see ``dreg-fit.sbatch``), the scheduler listens on ``tls://`` and the workers
and the dreg client present the same certificates; without them the cluster
speaks plain ``tcp://`` to anyone on the cluster network.

dask-jobqueue (>= 0.9, which has ``SLURMRunner``) is needed on the cluster
only: ``pip install dask-jobqueue`` next to dreg.  It is imported inside
:func:`main`, so this file can be checked where dask-jobqueue is absent.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _parse(argv: list[str] | None) -> argparse.Namespace:
    job_id = os.environ.get("SLURM_JOB_ID", "local")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True, help="dreg YAML configuration (see configs/)")
    p.add_argument(
        "--scheduler-file",
        default=f"scheduler-{job_id}.json",
        help="scheduler file on a filesystem every node shares (default ./scheduler-$SLURM_JOB_ID.json)",
    )
    p.add_argument("--exit-code-file", default=None, help="where the client rank writes dreg's exit code")
    p.add_argument("--performance-report", default=None, help="save Dask's HTML performance report here")
    p.add_argument(
        "--memory-limit",
        default=os.environ.get("DREG_WORKER_MEMORY", "auto"),
        help="memory limit of each worker (default: $DREG_WORKER_MEMORY or auto)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)

    # Imported here, not at the top: dask-jobqueue is installed on the cluster only.
    try:
        from dask_jobqueue.slurm import SLURMRunner
    except ImportError as exc:
        print(f"run_dreg: {exc}; install it next to dreg: pip install dask-jobqueue", file=sys.stderr)
        return 2
    from distributed.security import Security  # noqa: TID251 (a deployment script: Dask is its edge)

    # Certificates from Dask's configuration (DASK_DISTRIBUTED__COMM__TLS__* variables).
    security = Security()
    tls = bool(security.tls_ca_file)
    nthreads = int(os.environ.get("SLURM_CPUS_PER_TASK", "1"))
    scheduler_options = {
        "protocol": "tls" if tls else "tcp",
        "security": security,
        # the dashboard stays on the scheduler node's loopback: reach it through an SSH tunnel
        "dashboard_address": "127.0.0.1:8787",
    }
    worker_options = {
        "security": security,
        "nthreads": nthreads,
        "memory_limit": args.memory_limit,
        # node-local scratch for spilling, not the shared filesystem
        "local_directory": os.environ.get("TMPDIR", "/tmp"),
    }

    with SLURMRunner(
        scheduler_file=args.scheduler_file,
        scheduler_options=scheduler_options,
        worker_options=worker_options,
    ) as runner:
        # Only the client rank (SLURM_PROCID 1) gets here.
        from dreg.job.cli import main as dreg_main

        if tls:
            # dask-jobqueue 0.9 opens the rpc it uses to stop the scheduler when the
            # block ends without the TLS context (TypeError: "TLS expects a ssl_context"),
            # leaving scheduler and workers running until the allocation's time limit:
            # give it one made with the cluster's certificates.
            from distributed.core import rpc  # noqa: TID251

            runner.scheduler_comm = rpc(
                runner.scheduler_address, connection_args=security.get_connection_args("client")
            )

        cmd = ["fit", "--config", args.config, "--scheduler", runner.scheduler_address]
        if args.performance_report:
            cmd += ["--performance-report", args.performance_report]
        print(f"run_dreg: dreg {' '.join(cmd)}", flush=True)
        code = 1  # an exception escaping dreg counts as an unexpected failure
        try:
            code = dreg_main(cmd)
        finally:
            if args.exit_code_file:
                Path(args.exit_code_file).write_text(f"{code}\n", encoding="utf-8")
    # leaving the block shut the scheduler down; the workers follow it
    return code


if __name__ == "__main__":
    sys.exit(main())
