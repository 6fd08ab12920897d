"""Story engines: one abstract streaming method each; `registry.get_engine(model_id)` routes."""
