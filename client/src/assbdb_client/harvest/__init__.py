"""`assbdb-harvest`: watch an instrument PC's folder and upload each finished file once."""
from .config import FileTarget, Mapping, load_mapping
from .harvester import Harvester, ScanSummary
from .state import FileRecord, HarvestState

__all__ = ["FileRecord", "FileTarget", "Harvester", "HarvestState", "Mapping", "ScanSummary", "load_mapping"]
