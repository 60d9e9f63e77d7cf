"""Data pipeline: store-backed dataset (dict samples), D4 augmentation, the Lightning datamodule."""

from brahmasifier.data.dataset import StoreDataset
from brahmasifier.data.split import DataProblem, stratified_split
from brahmasifier.data.transforms import D4_SIZE, d4_apply, random_d4

__all__ = ["D4_SIZE", "DataProblem", "StoreDataset", "d4_apply", "random_d4", "stratified_split"]
