"""Data: the CF cube, its checks, importers, the twin world and spatial splits."""
