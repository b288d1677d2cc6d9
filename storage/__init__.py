"""Persistence layer: models, engine and session factory, repository functions, Alembic migrations.

Repository functions take a SQLAlchemy session and never commit; callers own the transaction.
"""
