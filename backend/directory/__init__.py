"""The directory: the project's synced copy of the hub's reference data.

Districts, medical organisations, specialties and doctors are learnt from the regional booking hub
(:func:`backend.directory.service.sync_directory`) and served to the GraphQL layer from the database.
Nothing is ever deleted: what vanishes upstream becomes inactive, since appointments refer to it.
"""
