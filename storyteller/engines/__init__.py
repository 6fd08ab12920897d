"""Story engines: one abstract streaming method each; `ids.route` says what a model id names and
`registry.get_engine(model_id)` builds its engine."""
