"""The fast band-file reader against astropy, bit for bit, on many layouts; and bad files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from brahmasifier.bands import STAMP_SIZE
from brahmasifier.io import FitsFormatError, read_band_fits_astropy, read_band_fits_fast, write_band_fits
from brahmasifier.io.fastfits import parse_band_bytes
from brahmasifier.io.fits import write_image_fits

N = STAMP_SIZE * STAMP_SIZE


def _image(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = rng.normal(0.0, 10.0, (STAMP_SIZE, STAMP_SIZE)).astype(np.float32)
    image[3, 4] = np.float32(1e-40)  # a subnormal survives both readers unchanged
    image[0, 0] = -0.0
    return image


def _bintable(path: Path, columns: list[fits.Column], header: dict[str, object] | None = None,
              primary: fits.PrimaryHDU | None = None) -> None:
    table = fits.BinTableHDU.from_columns(columns)
    for key, value in (header or {}).items():
        table.header[key] = value
    fits.HDUList([primary or fits.PrimaryHDU(), table]).writeto(path)


def _img_col(image: np.ndarray, band: str = "g", code: str = "E", dim: str | None = None) -> fits.Column:
    dtype = {"E": np.float32, "D": np.float64, "J": np.int32, "I": np.int16, "K": np.int64}[code]
    array = image.astype(dtype)
    return fits.Column(name=f"band_{band}", format=f"{N}{code}", dim=dim,
                       array=array[None] if dim else array.reshape(1, N))


# Each case: a writer of one file and the fast path it must take ("fast") or hand to astropy.
LAYOUTS: dict[str, Callable[[Path, np.ndarray], None]] = {
    "writer_tdim_str_id": lambda p, im: write_band_fits(p, "GG-LENS_12.3456_-4.5678", "g", im, id_column="Lens ID"),
    "writer_no_tdim_int_id": lambda p, im: write_band_fits(p, 40123456789012345, "g", im, id_column="Object ID", with_tdim=False),
    "writer_header_cards": lambda p, im: write_band_fits(p, "X1", "g", im, header={"BUNIT": "nJy", "ZP": 27.0, "COMMENT": "c"}),
    "vector_no_tdim": lambda p, im: _bintable(p, [fits.Column(name="ID", format="J", array=[7]), _img_col(im)]),
    "tdim_41_41": lambda p, im: _bintable(p, [fits.Column(name="ID", format="K", array=[2**40]), _img_col(im, dim="(41,41)")]),
    "float64_D": lambda p, im: _bintable(p, [fits.Column(name="Lens ID", format="8A", array=["abc"]), _img_col(im, code="D")]),
    "int32_image": lambda p, im: _bintable(p, [fits.Column(name="ID", format="J", array=[5]), _img_col(np.round(im), code="J")]),
    "image_first_column": lambda p, im: _bintable(p, [_img_col(im),
                                                      fits.Column(name="Object ID", format="20A", array=["  padded  "])]),
    "other_single_column": lambda p, im: _bintable(p, [fits.Column(name="objid", format="K", array=[99]), _img_col(im)]),
    "float_id": lambda p, im: _bintable(p, [fits.Column(name="ID", format="D", array=[12.5]), _img_col(im)]),
    "float_integer_id": lambda p, im: _bintable(p, [fits.Column(name="ID", format="E", array=[12.0]), _img_col(im)]),
    "no_id_column": lambda p, im: _bintable(p, [_img_col(im)]),
    "two_other_columns": lambda p, im: _bintable(p, [fits.Column(name="a", format="J", array=[1]),
                                                     fits.Column(name="b", format="E", array=[2.0]), _img_col(im)]),
    "extra_columns_before": lambda p, im: _bintable(p, [fits.Column(name="flag", format="L", array=[True]),
                                                        fits.Column(name="bits", format="3X", array=[[1, 0, 1]]),
                                                        fits.Column(name="Lens ID", format="6A", array=["L-1"]),
                                                        fits.Column(name="c", format="C", array=[1 + 2j]), _img_col(im)]),
    # Two rows, or a band_r column in a _g file, are refused by both readers: tests/hostile/test_fits_layouts.py.
    "quote_in_id": lambda p, im: _bintable(p, [fits.Column(name="ID", format="6A", array=["O'Neil"]), _img_col(im)]),
    "header_comments_history": lambda p, im: _bintable(p, [fits.Column(name="ID", format="J", array=[3]), _img_col(im)],
                                                       header={"HISTORY": "made by a test", "EXTNAME": "CUTOUT"}),
    "published_string_id_1681D": lambda p, im: write_band_fits(p, "0012345678901234567", "g", im, id_column="Object ID",
                                                               dtype=np.float64, id_width=22),
    # The blind set's form: the image in the primary HDU, no ID (and its variants).
    "image_in_primary": lambda p, im: fits.PrimaryHDU(im).writeto(p),
    "primary_float64_writer": lambda p, im: write_image_fits(p, im, header={"BUNIT": "nJy", "ZP": 31.4}),
    "primary_float64": lambda p, im: fits.PrimaryHDU(im.astype(np.float64)).writeto(p),
    "primary_int16": lambda p, im: fits.PrimaryHDU(np.round(im).astype(np.int16)).writeto(p),
    "primary_uint8": lambda p, im: fits.PrimaryHDU(np.clip(im, 0, 255).astype(np.uint8)).writeto(p),
    "primary_int64": lambda p, im: fits.PrimaryHDU(np.round(im * 1e6).astype(np.int64)).writeto(p),
    "image_extension_alone": lambda p, im: fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(im)]).writeto(p),
    # Layouts the fast path hands to astropy:
    "scaled_image_TSCAL": lambda p, im: _bintable(p, [fits.Column(name="ID", format="J", array=[3]),
                                                      _img_col(np.round(im), code="I")],
                                                  header={"TSCAL2": 0.5, "TZERO2": 10.0}),
    "primary_with_id_keyword": lambda p, im: fits.PrimaryHDU(im, header=fits.Header([("ID", "00042")])).writeto(p),
    "primary_scaled_BZERO": lambda p, im: fits.PrimaryHDU(np.clip(im + 100, 0, 6e4).astype(np.uint16)).writeto(p),
    "primary_then_catalogue": lambda p, im: fits.HDUList(
        [fits.PrimaryHDU(im), fits.BinTableHDU.from_columns([fits.Column(name="ID", format="J", array=[8])])]).writeto(p),
    "primary_3d_cube": lambda p, im: fits.HDUList(
        [fits.PrimaryHDU(im[None]),
         fits.BinTableHDU.from_columns([fits.Column(name="ID", format="J", array=[9]), _img_col(im)])]).writeto(p),
    "image_hdu_with_id_keyword": lambda p, im: fits.HDUList(
        [fits.PrimaryHDU(), fits.ImageHDU(im, header=fits.Header([("ID", 42)]))]).writeto(p),
    "image_hdu_then_table": lambda p, im: fits.HDUList(
        [fits.PrimaryHDU(), fits.ImageHDU(np.zeros((2, 2))),
         fits.BinTableHDU.from_columns([fits.Column(name="ID", format="J", array=[8]), _img_col(im)])]).writeto(p),
    "variable_length_heap": lambda p, im: _bintable(
        p, [fits.Column(name="ID", format="PJ()", array=np.array([np.array([1, 2], dtype=np.int32)], dtype=object)),
            _img_col(im)]),
    "unsigned_id_TZERO": lambda p, im: _bintable(
        p, [fits.Column(name="ID", format="K", bzero=2**63, array=np.array([2**63 + 5], dtype=np.uint64)), _img_col(im)]),
}
FAST = {"writer_tdim_str_id", "writer_no_tdim_int_id", "writer_header_cards", "vector_no_tdim", "tdim_41_41", "float64_D",
        "int32_image", "image_first_column", "other_single_column", "float_id", "float_integer_id", "no_id_column",
        "two_other_columns", "extra_columns_before", "quote_in_id",
        "header_comments_history", "published_string_id_1681D", "image_in_primary", "primary_float64_writer",
        "primary_float64", "primary_int16", "primary_uint8", "primary_int64", "image_extension_alone"}


def test_a_41x41_image_and_a_band_table_in_one_file_is_ambiguous(tmp_path: Path) -> None:
    path = tmp_path / "obj_g.fits"
    fits.HDUList([fits.PrimaryHDU(np.zeros((41, 41), np.float32)),
                  fits.BinTableHDU.from_columns([fits.Column(name="ID", format="J", array=[8]), _img_col(_image(3))]),
                  ]).writeto(path)
    for reader in (read_band_fits_fast, read_band_fits_astropy):
        with pytest.raises(FitsFormatError, match="ambiguous"):
            reader(path, "g")


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_fast_reader_matches_astropy_bit_for_bit(tmp_path: Path, layout: str) -> None:
    path = tmp_path / "obj_g.fits"
    LAYOUTS[layout](path, _image(len(layout)))
    reference = read_band_fits_astropy(path, "g")
    fast = read_band_fits_fast(path, "g")
    assert fast.object_id == reference.object_id
    assert fast.image.dtype == reference.image.dtype == np.float32
    assert fast.image.shape == (STAMP_SIZE, STAMP_SIZE)
    assert fast.image.tobytes() == reference.image.tobytes()  # bit-exact, incl. -0.0 and subnormals
    took_fast_path = True
    try:
        parse_band_bytes(path.read_bytes(), path, "g")
    except Exception as exc:  # the private _Fallback signal
        assert type(exc).__name__ == "_Fallback"  # noqa: PT017 - not an expected failure: which path ran
        took_fast_path = False
    assert took_fast_path == (layout in FAST)


def test_reader_decodes_ids_and_pixels_as_written(tmp_path: Path) -> None:
    image = _image(1)
    write_band_fits(tmp_path / "a_g.fits", "GG-LENS_1.5_-2.25", "g", image, id_column="Lens ID")
    write_band_fits(tmp_path / "b_g.fits", 12345678901234567, "g", image, id_column="Object ID", with_tdim=False)
    a = read_band_fits_fast(tmp_path / "a_g.fits", "g")
    b = read_band_fits_fast(tmp_path / "b_g.fits", "g")
    assert (a.object_id, b.object_id) == ("GG-LENS_1.5_-2.25", "12345678901234567")
    np.testing.assert_array_equal(a.image, image)
    np.testing.assert_array_equal(b.image, image)
    assert float(a.image[5, 7]) == float(image[5, 7])  # orientation: row 5, column 7


def test_nan_and_inf_pass_through_the_band_reader(tmp_path: Path) -> None:
    image = _image(2)
    image[1, 1], image[2, 2], image[3, 3] = np.nan, np.inf, -np.inf
    write_band_fits(tmp_path / "n_g.fits", 1, "g", image)
    fast = read_band_fits_fast(tmp_path / "n_g.fits", "g").image
    assert np.isnan(fast[1, 1]) and fast[2, 2] == np.inf and fast[3, 3] == -np.inf


def _good_bytes(tmp_path: Path) -> bytes:
    write_band_fits(tmp_path / "good_g.fits", "ID-1", "g", _image(3))
    return (tmp_path / "good_g.fits").read_bytes()


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("zero_length", "empty file"),
        ("garbage", "not a FITS file"),
        ("cut_in_table_data", "truncated"),
        ("cut_in_extension_header", "truncated"),
        ("cut_after_primary", "no BinTable"),
        ("cut_mid_block", "truncated"),
    ],
)
@pytest.mark.parametrize("reader", [read_band_fits_fast, read_band_fits_astropy], ids=["fast", "astropy"])
def test_bad_files_raise_fits_format_error_naming_the_file(tmp_path: Path, case: str, message: str,
                                                           reader: Callable[[Path], object]) -> None:
    good = _good_bytes(tmp_path)
    data = {
        "zero_length": b"",
        "garbage": np.random.default_rng(0).bytes(5000),
        "cut_in_table_data": good[: 2 * 2880 + 1000],
        "cut_in_extension_header": good[: 2880 + 400],
        "cut_after_primary": good[:2880],
        "cut_mid_block": good[:-100],
    }[case]
    path = tmp_path / f"{case}_g.fits"
    path.write_bytes(data)
    with pytest.raises(FitsFormatError) as info:
        reader(path, "g")
    assert str(path) in str(info.value)
    assert info.value.path == path
    if reader is read_band_fits_fast or case not in ("zero_length", "garbage", "cut_in_extension_header"):
        assert message in str(info.value)


def test_blind_set_file_reads_without_id_and_truncation_is_an_error(tmp_path: Path) -> None:
    image = _image(7).astype(np.float64)
    path = tmp_path / "object_00042_g.fits"
    write_image_fits(path, image)
    for reader in (read_band_fits_fast, read_band_fits_astropy):
        record = reader(path, "g")
        assert record.object_id is None and record.image.tobytes() == image.astype(np.float32).tobytes()
    cut = tmp_path / "object_00043_g.fits"
    for size in (len(path.read_bytes()) - 100, 2880 + 5000, 2000):  # in the data, mid-data, in the header
        cut.write_bytes(path.read_bytes()[:size])
        for reader in (read_band_fits_fast, read_band_fits_astropy):
            with pytest.raises(FitsFormatError) as info:
                reader(cut, "g")
            assert info.value.path == cut
            assert "truncated" in str(info.value) or (reader is read_band_fits_astropy and size == 2000)


@pytest.mark.parametrize("shape", [(40, 40), (41, 42)])
def test_wrong_shape_image_is_rejected_by_both_readers(tmp_path: Path, shape: tuple[int, int]) -> None:
    path = tmp_path / "w_g.fits"
    n = shape[0] * shape[1]
    _bintable(path, [fits.Column(name="ID", format="J", array=[1]),
                     fits.Column(name="band_g", format=f"{n}E", dim=f"({shape[1]},{shape[0]})", array=np.zeros((1, *shape)))])
    for reader in (read_band_fits_fast, read_band_fits_astropy):
        with pytest.raises(FitsFormatError, match="image has shape"):
            reader(path, "g")


def test_missing_file_and_missing_image_column(tmp_path: Path) -> None:
    with pytest.raises(FitsFormatError, match="cannot read file"):
        read_band_fits_fast(tmp_path / "absent_g.fits", "g")
    path = tmp_path / "noimg_g.fits"
    _bintable(path, [fits.Column(name="ID", format="J", array=[1]), fits.Column(name="flux", format="E", array=[1.0])])
    for reader in (read_band_fits_fast, read_band_fits_astropy):
        with pytest.raises(FitsFormatError, match="no 'band_<b>' image column"):
            reader(path, "g")
    empty = tmp_path / "norows_g.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(
        [fits.Column(name="ID", format="J", array=np.zeros(0, np.int32)),
         fits.Column(name="band_g", format=f"{N}E", array=np.zeros((0, N), np.float32))])]).writeto(empty)
    for reader in (read_band_fits_fast, read_band_fits_astropy):
        with pytest.raises(FitsFormatError, match="table has no rows"):
            reader(empty, "g")


def test_layout_cache_reuses_headers_but_reads_each_files_own_bytes(tmp_path: Path) -> None:
    from brahmasifier.io import fastfits

    fastfits._LAYOUTS.clear()
    paths = []
    for k in range(4):  # same header layout (fixed-width integer ID), different content
        path = tmp_path / f"o{k}_g.fits"
        write_band_fits(path, 1000 + k, "g", _image(100 + k))
        paths.append(path)
    for path in paths + paths:
        fast, reference = read_band_fits_fast(path, "g"), read_band_fits_astropy(path, "g")
        assert fast.object_id == reference.object_id and fast.image.tobytes() == reference.image.tobytes()
    assert len(fastfits._LAYOUTS) == 1
    cut = tmp_path / "cut_g.fits"
    cut.write_bytes(paths[0].read_bytes()[:-3000])  # same headers, cached layout: still "truncated"
    with pytest.raises(FitsFormatError, match="truncated"):
        read_band_fits_fast(cut, "g")
    # the band is part of the key: asking for another band re-parses and refuses the band_g column
    with pytest.raises(FitsFormatError, match="no band_r column"):
        read_band_fits_fast(paths[1], "r")


def test_layout_cache_for_primary_images_keys_on_the_one_header_block(tmp_path: Path) -> None:
    from brahmasifier.io import fastfits

    fastfits._LAYOUTS.clear()
    paths = []
    for k in range(4):
        paths.append(tmp_path / f"object_{k:05d}_g.fits")
        write_image_fits(paths[-1], _image(200 + k))
    for path in paths + paths:
        fast, reference = read_band_fits_fast(path, "g"), read_band_fits_astropy(path, "g")
        assert fast.object_id is None and fast.image.tobytes() == reference.image.tobytes()
    assert len(fastfits._LAYOUTS) == 1
    longer = tmp_path / "object_99999_g.fits"  # same header, an HDU appended: the cached layout must not hide it
    table = fits.BinTableHDU.from_columns([fits.Column(name="ID", format="J", array=[5]), _img_col(_image(2))])
    fits.HDUList([fits.PrimaryHDU(_image(1).astype(np.float64)), table]).writeto(longer)
    assert longer.read_bytes()[:2880] == paths[0].read_bytes()[:2880]
    with pytest.raises(FitsFormatError, match="ambiguous"):  # a 41×41 image and a band table: which is the cutout?
        read_band_fits_fast(longer, "g")
