"""Data pipeline: store-backed dataset (dict samples), D4 augmentation, the Lightning datamodule."""

from brahmasifier.data.dataset import StoreDataset
from brahmasifier.data.split import stratified_split
from brahmasifier.errors import DataProblem
from brahmasifier.data.transforms import D4_SIZE, d4_apply, random_d4, rot90

__all__ = ["D4_SIZE", "DataProblem", "StoreDataset", "d4_apply", "random_d4", "rot90", "stratified_split"]
