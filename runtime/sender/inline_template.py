"""The inline template ``{subject, html, text}`` both send paths accept: ``POST /messages``'s ``template`` and a
campaign's (or segment's) ``template``. Kept apart from ``runtime.sender.campaign`` so that the transactional send
path validates it without importing the campaign models (tests/functional/test_cold_start_imports.py)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from runtime.sender.ses_models import single_line

MAX_SUBJECT = 998  # RFC 5322: a header line holds at most 998 characters


class InlineTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    subject: str = Field(min_length=1, max_length=MAX_SUBJECT)
    html: str | None = None
    text: str | None = None

    @field_validator("subject")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return single_line(value, "subject")

    @model_validator(mode="after")
    def _body(self) -> InlineTemplate:
        if not self.html and not self.text:
            raise ValueError("an inline template needs html or text")
        return self

    def content(self) -> dict[str, str]:
        """SES's ``EmailTemplateContent`` (``Subject``, ``Html``, ``Text``; an empty part left out)."""
        return {
            "Subject": self.subject,
            **({"Html": self.html} if self.html else {}),
            **({"Text": self.text} if self.text else {}),
        }
