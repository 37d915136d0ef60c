"""The floor for ``bench/serving.py``: the least a Python server can do per request on this model.

    .venv/bin/python bench/serving_floor.py MODEL.onnx --port PORT [--workers 2]

A bare uvicorn + Starlette app: ``POST /v2/models/{name}/infer`` parses the V2 JSON body with orjson,
builds a float32 array of shape ``inputs[0].shape`` from ``inputs[0].data``, runs onnxruntime (one
intra-op and one inter-op thread) and answers the predicted labels as a V2 response;
``GET /v2/health/ready`` answers 200 once the session is loaded. No validation, logging, metrics or
routing: whatever a real server adds on top of this is its overhead.

TCP_NODELAY is set on every accepted connection by a subclass of uvicorn's httptools protocol: with
``workers > 1`` uvicorn hands a pre-bound socket to each worker and the accepted connections keep
Nagle's algorithm on, so every keep-alive response waits for the client's delayed ACK (about 40 ms;
uvicorn issue 3149). ``--keep-nagle`` leaves it off, to show the trap: at concurrency 1 the median
latency then sits near 40 ms instead of well under 1 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MODEL_ENV = "WEIR_BENCH_FLOOR_MODEL"
_session: ort.InferenceSession | None = None


class NoDelayProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with TCP_NODELAY set on the accepted socket."""

    def connection_made(self, transport: Any) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


def session() -> ort.InferenceSession:
    global _session
    if _session is None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        _session = ort.InferenceSession(os.environ[MODEL_ENV], options, providers=["CPUExecutionProvider"])
    return _session


async def infer(request: Request) -> Response:
    tensor = orjson.loads(await request.body())["inputs"][0]
    x = np.asarray(tensor["data"], dtype=np.float32).reshape(tensor["shape"])
    sess = session()
    labels = sess.run([sess.get_outputs()[0].name], {sess.get_inputs()[0].name: x})[0]
    body = {
        "model_name": request.path_params["name"],
        "outputs": [{"name": "label", "datatype": "INT64", "shape": [len(labels)], "data": labels.tolist()}],
    }
    return Response(orjson.dumps(body), media_type="application/json")


async def ready(request: Request) -> Response:
    session()
    return Response(b"", status_code=200)


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    session()
    yield


app = Starlette(
    routes=[
        Route("/v2/models/{name}/infer", infer, methods=["POST"]),
        Route("/v2/health/ready", ready, methods=["GET"]),
    ],
    lifespan=lifespan,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--loop", default="uvloop", choices=["uvloop", "asyncio"])
    parser.add_argument("--keep-nagle", action="store_true", help="do not set TCP_NODELAY (shows the trap)")
    args = parser.parse_args()

    import uvicorn

    os.environ[MODEL_ENV] = str(args.model.resolve())
    here = str(Path(__file__).resolve().parent)
    sys.path.insert(0, here)
    from serving_floor import NoDelayProtocol as Protocol  # by its module name, so workers can unpickle it

    uvicorn.run(
        "serving_floor:app",
        app_dir=here,
        host=args.host,
        port=args.port,
        workers=args.workers,
        http=HttpToolsProtocol if args.keep_nagle else Protocol,
        loop=args.loop,
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
