"""«Мое здоровье» patient backend: app factory, settings, database, auth and one package per domain."""
