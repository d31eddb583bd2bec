"""Settings of the live feeds (``SAFETY_FEEDS_*``), read by streams/feeds/live.py."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.feeds.site import RULES_DIR


class FeedSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAFETY_FEEDS_", extra="ignore")

    site_file: Path = Field(RULES_DIR / "sites" / "example-lis.yaml", description="rules/sites/<site>.yaml")
    subjects_file: Path | None = Field(None, description="site-held CSV identifier,subject_id (outside the repo)")
    mllp_host: str = Field("127.0.0.1", description="interface the HL7 v2 MLLP listener binds")
    mllp_port: int | None = Field(2575, ge=0, le=65535, description="MLLP port; unset (empty) = no listener")
    tokens: str = Field("", description="per-source bearer tokens for POST /fhir and /events: 'lis=TOKEN,edc=TOKEN'")
    max_message_bytes: int = Field(1_000_000, ge=1024, description="largest HL7 message or HTTP body accepted")
    ack_timeout: float = Field(10.0, gt=0, description="seconds to wait for the broker before answering AE / 503")

    def source_tokens(self) -> dict[str, str]:
        """token -> source name; a token shorter than 24 characters is refused (guessable)."""
        found: dict[str, str] = {}
        for pair in filter(None, (p.strip() for p in self.tokens.split(","))):
            source, _, token = pair.partition("=")
            if not source or len(token) < 24:
                raise ValueError("SAFETY_FEEDS_TOKENS: expected source=TOKEN pairs, each token >= 24 characters")
            found[token] = source
        return found
