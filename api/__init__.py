"""The FastAPI app, its routes, authentication and the command line."""
