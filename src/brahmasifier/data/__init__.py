"""Data pipeline: store-backed dataset (dict samples), D4 augmentation, the Lightning datamodule."""

from brahmasifier.data.dataset import StoreDataset
from brahmasifier.data.split import stratified_split
from brahmasifier.data.transforms import D4_SIZE, d4_apply, random_d4, rot90
from brahmasifier.errors import DataProblem

__all__ = ["D4_SIZE", "DataProblem", "StoreDataset", "d4_apply", "random_d4", "rot90", "stratified_split"]
