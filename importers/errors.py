"""Errors of the import pipeline: each a stable ``code``, a Chinese message (the
default UI language) and an English one, and nothing written when raised."""

from __future__ import annotations

from typing import Any

from registry.errors import RegistryError
from registry.messages import render


class ImportFileError(RegistryError):
    """The file itself cannot be imported (as opposed to some of its rows)."""

    status = 422
    code = "import_file_error"

    def __init__(self, zh: str, en: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(zh, errors=errors)
        self.message_zh = zh
        self.message_en = en
        self.message_code = ""
        self.params: dict[str, Any] = {}

    @classmethod
    def of(
        cls, message: str, *, errors: list[dict[str, Any]] | None = None, **params: Any
    ) -> ImportFileError:
        """The error with message ``message`` of ``registry.messages`` (both languages
        rendered from the one template table); ``errors`` as in RegistryError."""
        exc = cls(render(message, params, "zh"), render(message, params, "en"), errors=errors)
        exc.message_code, exc.params = message, params
        return exc

    def text(self, lang: str = "zh") -> str:
        """The message in ``zh`` or ``en``."""
        if self.message_code:
            return render(self.message_code, self.params, lang)
        return self.message_zh if lang == "zh" else self.message_en

    def __str__(self) -> str:
        return f"{self.message_zh} / {self.message_en}"


class EmptyFile(ImportFileError):
    """Zero bytes, or a file with no records."""

    code = "import_empty_file"


class FileTooLarge(ImportFileError):
    """Over ``Settings.import_max_bytes``."""

    status = 413
    code = "import_file_too_large"


class CorruptFile(ImportFileError):
    """GDAL/openpyxl/zip could not read it (truncated, damaged, not what its name says)."""

    code = "import_corrupt_file"


class UnsupportedFormat(ImportFileError):
    """No reader for this kind of file."""

    code = "import_unsupported_format"


class ZipWithoutShapefile(ImportFileError):
    """A zip that holds no .shp (and no other importable file)."""

    code = "import_zip_without_shp"


class UnsafeArchive(ImportFileError):
    """An archive member would be written outside the extraction folder."""

    code = "import_unsafe_archive"


class ZipBomb(ImportFileError):
    """An archive that would expand to too much, or compresses implausibly well."""

    code = "import_zip_bomb"


class XmlEntities(ImportFileError):
    """KML with a DOCTYPE or entity declarations (billion laughs, external entities)."""

    code = "import_xml_entities"


class BadEncoding(ImportFileError):
    """Text that would come out as mojibake in the chosen or detected encoding."""

    code = "import_bad_encoding"


class CrsMissing(ImportFileError):
    """No coordinate system in the file, and the numbers are not degrees."""

    code = "import_crs_missing"


class CrsInvalid(ImportFileError):
    """The coordinate system given by the user is unknown."""

    code = "import_crs_invalid"


class CrsWrong(ImportFileError):
    """The coordinate system given by the user cannot be what the numbers are in."""

    code = "import_crs_wrong"


class CrsLooksOffset(ImportFileError):
    """A table that looks like a phone map app's export (GCJ-02) with no CRS given."""

    code = "import_crs_looks_gcj02"


class BadOption(ImportFileError):
    """An option of the run (a default value, a column name) that cannot apply."""

    code = "import_bad_option"


class MappingError(ImportFileError):
    """An explicit column mapping names a column or attribute that does not exist."""

    code = "import_bad_mapping"


class GeometryColumnsMissing(ImportFileError):
    """A table without longitude/latitude or WKT columns."""

    code = "import_no_geometry_columns"


class ImportNotFound(ImportFileError):
    """No import with that id."""

    status = 404
    code = "import_not_found"


class UndoConflict(ImportFileError):
    """The import cannot be undone (not committed, or its assets changed since)."""

    status = 409
    code = "import_undo_conflict"
