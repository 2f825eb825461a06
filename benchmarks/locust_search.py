"""Locust users for benchmarks/bench_load.py: each POSTs /search as fast as it is answered.

Closed loop (no wait between requests), so throughput is what the server sustains with
`-u` requests in flight. A response counts as a failure unless it is a 200 with a
`results` list. Options (after locust's own): --mode, --k, --queries-file (a JSON list of
query texts). User n of N sends queries n, n+N, n+2N, ... and starts over at its end, so
no query repeats (and could come from the server's embedding cache) before the whole
list has been sent.

  locust -f benchmarks/locust_search.py --headless -u 16 -r 16 -t 30s \
      --host http://127.0.0.1:8000 --mode hybrid --queries-file queries.json
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from locust import FastHttpUser, constant, events, task

_user_numbers = itertools.count()


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--mode", default="hybrid", help="dense, lexical or hybrid")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--queries-file", default="", help="JSON list of query texts")


class SearchUser(FastHttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        options = self.environment.parsed_options
        path = options.queries_file
        queries = json.loads(Path(path).read_text()) if path else ["semantic search"]
        users = max(1, int(options.num_users or 1))
        mine = queries[next(_user_numbers) % users::users] or queries
        self.queries = itertools.cycle(mine)
        self.mode, self.k = options.mode, options.k

    @task
    def search(self) -> None:
        body = {"query": next(self.queries), "k": self.k, "mode": self.mode}
        with self.client.post("/search", json=body, name=f"/search {self.mode}",
                              catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
            elif not isinstance((response.json() or {}).get("results"), list):
                response.failure("no results list in the answer")
