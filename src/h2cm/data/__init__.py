"""Data: the CF cube, its checks, importers, the twin world, spatial splits and the TransCom-3
regions (:mod:`.regions`, on the 1-degree map shipped in ``maps/``)."""
