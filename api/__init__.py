"""SpendSense's HTTP API and dashboard (FastAPI): ``uvicorn api.main:app``."""
