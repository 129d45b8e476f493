"""The Gymnasium environments; registered in `mlgo_env/__init__.py`."""
