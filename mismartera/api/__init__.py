"""The control plane: an HTTP API (FastAPI on uvicorn, in a thread of its own) served by the process
that owns the session, and the client other processes use to reach it.

    host.SessionHost     the owner's side: token, discovery file, server lifecycle, one session per home
    server.ApiServer     uvicorn in its own thread, on a socket bound before the thread starts
    app.create_app       the FastAPI application: auth, body limit, error mapping, the routers
    routes/              one router per command group; each calls the manager method its command calls
    remote.RemoteSystem  the client side: the manager's methods over HTTP, returning the same views
    client.ApiClient     HTTP with the bearer token (http.client: nothing heavy to import)

FastAPI and uvicorn are imported only when a server starts (`app`, `routes`, `server.ApiServer.run`);
importing this package, `host`, `remote` or `client` costs next to nothing. This package and the
Alpaca stream adapter are the only places that may use asyncio.
"""
