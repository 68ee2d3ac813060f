"""Deployment settings, read from the environment (never at import time)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class Basemap(BaseModel):
    """One tile basemap the web map may show.

    ``crs`` says which datum the tiles are drawn in: Amap/Tencent tiles are in
    GCJ-02, so the map shifts what it draws onto them (and un-shifts what users draw).
    """

    name: str
    url: str
    attribution: str = ""
    crs: Literal["wgs84", "gcj02"] = "wgs84"
    max_zoom: int = 19
    subdomains: str = ""
    # Issue 11: what the page needs beyond one XYZ URL. ``id`` names a basemap an admin
    # configured in the app (registry/basemaps.py); ``label_url`` is an annotation layer
    # drawn over the base (Tianditu's cva/cia); ``vector`` tiles (.pbf) are drawn in the
    # browser with ``vector_layers``; ``bounds``/``min_zoom`` keep Leaflet from asking a
    # file for tiles it does not hold.
    id: str = ""
    kind: str = "xyz"
    label_url: str = ""
    vector: bool = False
    vector_layers: list[str] = Field(default_factory=list)
    min_zoom: int = 0
    max_native_zoom: int | None = None
    bounds: list[float] | None = None


class Settings(BaseSettings):
    """Where the database lives and how the service listens.

    With no ``DATABASE_URL`` the registry runs its own PostgreSQL + PostGIS cluster
    in ``data_dir``; with one, it never touches a local cluster.
    """

    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore")

    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    # Streaming replicas for read-only requests (issue 13): one URL or several,
    # comma-separated. Writes, and a client's reads for read_your_writes_seconds after
    # its own write, stay on the primary (web/deps.py get_read_conn).
    database_read_url: str | None = Field(default=None, validation_alias="DATABASE_READ_URL")
    read_your_writes_seconds: int = 10
    # psycopg prepares a statement on the server after this many runs of it on one
    # connection; 0 never prepares, as PgBouncer in transaction mode needs (before 1.21,
    # or without max_prepared_statements): docs/scaling.md.
    prepare_threshold: int = 5
    # Built vector tiles are kept in the database until their layers change
    # (registry/tile_cache.py); false builds every tile (benchmarks of cold tiles).
    tile_cache: bool = True
    data_dir: Path = PROJECT_ROOT / "var"
    pg_port: int = 54329
    pg_database: str = "registry"
    pg_user: str = "registry"
    # The OS account the embedded cluster runs as when we are root (PostgreSQL
    # refuses to run as root).
    pg_os_user: str = "postgres"
    migrations_dir: Path = PROJECT_ROOT / "sql"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # REGISTRY_BASEMAPS='[{"name": ..., "url": ..., "crs": "gcj02"}]'. Empty by default:
    # the map must work offline, showing district boundaries on a plain background.
    basemaps: list[Basemap] = Field(default_factory=list)
    # Basemaps an admin configures in the app (issue 11): the Tianditu key of the bureau
    # (a browser key, sent with every Tianditu tile request), and the folder of the
    # MBTiles/PMTiles files the registry serves itself (default <data_dir>/basemaps).
    tianditu_key: str = ""
    basemap_dir: Path | None = None
    # Imports: the largest upload accepted, and what an archive may expand to (zip bombs).
    import_max_bytes: int = 2 * 1024**3
    import_max_unzipped_bytes: int = 8 * 1024**3
    import_max_zip_ratio: float = 200.0
    # accounts and sessions (issue 3)
    public_read: bool = False  # REGISTRY_PUBLIC_READ=true lets anyone read without signing in
    session_ttl_hours: float = 12.0
    cookie_secure: bool = False  # set true behind HTTPS so cookies never travel in clear
    login_max_failures: int = 5  # per username and address ...
    login_window_seconds: int = 300  # ... within this many seconds, then 429
    token_ttl_days: float = 365.0  # default lifetime of a new API token
    # security headers and HTTPS (issue 9; web/security.py). Addresses (IPs or CIDRs,
    # comma-separated; "*" any, "" none) whose X-Forwarded-Proto/-For are believed: a
    # TLS-terminating proxy there makes the request https, and cookies Secure.
    forwarded_allow_ips: str = "127.0.0.1"
    # CSP frame-ancestors: who may frame the pages ("'none'", "'self'", or origins).
    frame_ancestors: str = "'none'"
    hsts_seconds: int = 0  # >0: Strict-Transport-Security on https responses
    # No request can hold the service: a statement of a request's connection is
    # cancelled after this many seconds (503), and a request waits at most
    # pool_timeout seconds for a free connection (503 with Retry-After).
    statement_timeout: float = 30.0
    pool_timeout: float = 5.0
    pool_max_size: int = 10
    # Sizes of a request (web/limits.py): URL incl. query (414), all headers (431),
    # body other than survey uploads (413; a 10,000-vertex zone is ~0.4 MB of JSON).
    max_url_bytes: int = 8 * 1024
    max_header_bytes: int = 32 * 1024
    max_body_bytes: int = 16 * 1024**2
    # Field capture (issue 14): a new asset placed by the phone's GPS is refused when the
    # fix is worse than this many metres (REGISTRY_FIELD_MAX_ACCURACY_M); tapping the
    # position on the map is always accepted.
    field_max_accuracy_m: float = Field(default=10.0, gt=0)

    @field_validator("frame_ancestors")
    @classmethod
    def _one_directive(cls, value: str) -> str:
        # written into the Content-Security-Policy header as it is
        if any(c in value for c in ";,\r\n") or not value.isascii():
            raise ValueError("CSP sources separated by spaces, e.g. \"'self' https://portal.example\"")
        return value.strip() or "'none'"

    @field_validator("database_url")
    @classmethod
    def _plain_postgres_scheme(cls, value: str | None) -> str | None:
        # SQLAlchemy-style URLs ("postgresql+psycopg://") are common in deployment
        # configs; psycopg wants the plain scheme.
        if value and value.startswith("postgresql+"):
            return "postgresql://" + value.split("://", 1)[1]
        return value or None

    @property
    def read_urls(self) -> list[str]:
        """The replicas' URLs (DATABASE_READ_URL split on commas), empty when none."""
        urls = [u.strip() for u in (self.database_read_url or "").split(",") if u.strip()]
        # the same SQLAlchemy-style scheme as DATABASE_URL is accepted
        return ["postgresql://" + u.split("://", 1)[1] if u.startswith("postgresql+") else u for u in urls]

    @property
    def basemap_folder(self) -> Path:
        """Where the MBTiles/PMTiles basemap files are (REGISTRY_BASEMAP_DIR)."""
        return self.basemap_dir or self.data_dir / "basemaps"

    @property
    def embedded(self) -> bool:
        """True when the registry manages its own cluster."""
        return self.database_url is None
