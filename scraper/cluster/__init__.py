"""Many workers on one PostgreSQL: the task queue (Procrastinate on the catalog's database),
`morgue worker`, and politeness held across workers (host leases, shared robots.txt).

    queue.py       the tasks and the Procrastinate app on the catalog's database
    worker.py      `morgue worker`: runs tasks until SIGTERM, then finishes what is in flight
    politeness.py  the fetcher's HostGate and RobotsCache on PostgreSQL host leases
"""
