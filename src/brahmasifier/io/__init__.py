"""Reading and writing the challenge's FITS files, and the packed cutout store."""
