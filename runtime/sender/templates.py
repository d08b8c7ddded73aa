"""SES templates for campaigns: loaded from inline HTML or an S3 object, then created in SES
(``CreateEmailTemplate``) in every sending region — the backup region needs them too, or failover would fail with
TEMPLATE_NOT_FOUND.

A campaign's templates are created, never updated: names are ``sesame-<env>-<campaign>-<scope>`` and campaign ids are
not reused, so a template that already exists is either this campaign's own (an earlier attempt of the same
submission created it and died before recording the campaign: same content, fine) or someone else's (other
content: refused, never overwritten). The app role may create and read only its environment's templates."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import Any

from runtime.logs import get_logger
from runtime.sender.campaign import CampaignCandidate, CampaignError, TemplateSpec, _TemplateChoice, template_name_for
from runtime.sender.ses_models import single_line

log = get_logger(__name__)

MAX_TEMPLATE_BYTES = 500_000  # SES's template size limit is 500 KB
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


class TemplateSyncError(RuntimeError):
    """SES refused or failed to store a template (``retryable`` tells a transient failure from a bad template)."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class TemplateConflictError(TemplateSyncError):
    """A template of that name already exists with other content: it is not ours to overwrite."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


def split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _error_code(exc: Exception) -> str:
    return str((getattr(exc, "response", None) or {}).get("Error", {}).get("Code", type(exc).__name__))


class TemplateLoader:
    """Turns the template choices of a candidate into ``TemplateSpec``s (reads S3 objects once per URI)."""

    def __init__(self, s3: Callable[[], Any], *, environment: str = "dev") -> None:
        self._s3 = s3
        self.environment = environment

    def load(self, candidate: CampaignCandidate, campaign_id: str) -> dict[str, TemplateSpec]:
        specs: dict[str, TemplateSpec] = {}
        problems: list[str] = []
        sources: list[tuple[str, str, _TemplateChoice]] = []
        if candidate.has_template():
            sources.append(("campaign", "", candidate))
        for index, segment in enumerate(candidate.segments):
            if segment.has_template():
                sources.append((f"segment:{index}", f"segments[{index}].", segment))
        cache: dict[str, str] = {}
        for key, where, choice in sources:
            scope = "default" if key == "campaign" else key.replace(":", "")
            name = template_name_for(campaign_id, scope, environment=self.environment)
            try:
                specs[key] = self._spec(choice, candidate, name, cache)
            except ValueError as exc:
                problems.append(f"{where}{exc}")
        if problems:
            raise CampaignError(problems)
        return specs

    def _spec(
        self,
        choice: _TemplateChoice,
        candidate: CampaignCandidate,
        name: str,
        cache: dict[str, str],
    ) -> TemplateSpec:
        if choice.template_name:
            return TemplateSpec(choice.template_name, None, "existing")
        if choice.template is not None:
            return TemplateSpec(name, choice.template.content(), "inline")
        assert choice.templateS3Uri is not None
        uri = choice.templateS3Uri
        if uri not in cache:
            cache[uri] = self._fetch(uri)
        content = self._content(uri, cache[uri], choice.subject or candidate.subject)
        return TemplateSpec(name, content, uri)

    def _fetch(self, uri: str) -> str:
        bucket, key = split_s3_uri(uri)
        try:
            response = self._s3().get_object(Bucket=bucket, Key=key)
        except Exception as exc:
            code = _error_code(exc)
            if code in ("NoSuchKey", "NoSuchBucket", "404", "AccessDenied", "403"):
                raise ValueError(f"templateS3Uri: cannot read {uri} ({code})") from exc
            raise
        raw: bytes = response["Body"].read(MAX_TEMPLATE_BYTES + 1)
        if len(raw) > MAX_TEMPLATE_BYTES:
            raise ValueError(f"templateS3Uri: {uri} is larger than SES's 500 KB template limit")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"templateS3Uri: {uri} is not UTF-8 text") from exc
        return text

    @staticmethod
    def _content(uri: str, body: str, subject: str | None) -> dict[str, str]:
        if uri.endswith(".json"):
            try:
                data = json.loads(body)
            except json.JSONDecodeError as exc:
                raise ValueError(f"templateS3Uri: {uri} is not valid JSON ({exc.msg})") from exc
            if not isinstance(data, dict) or not (data.get("html") or data.get("text")):
                raise ValueError(f"templateS3Uri: {uri} must hold {{subject, html, text}}")
            subj = subject or data.get("subject")
            if not subj:
                raise ValueError(f"subject: {uri} has no subject and none was given")
            out = {"Subject": single_line(str(subj), "subject")}
            if data.get("html"):
                out["Html"] = str(data["html"])
            if data.get("text"):
                out["Text"] = str(data["text"])
            return out
        title = _TITLE.search(body)
        # whitespace in an HTML title is insignificant: fold it (line breaks included) into single spaces
        subj = subject or (" ".join(html.unescape(title.group(1)).split()) if title else "")
        if not subj:
            raise ValueError(f"subject: give a subject for {uri} (the HTML has no <title>)")
        return {"Subject": single_line(subj, "subject"), "Html": body}


class TemplatePublisher:
    """Creates templates in SES, in each given region (never updates one)."""

    def __init__(self, ses: Callable[[str], Any]) -> None:
        self._ses = ses
        self.calls = 0

    def publish(self, specs: list[TemplateSpec], regions: list[str]) -> list[str]:
        """Create every template in every region. The first (primary) region is required: its failure raises.
        A backup region that fails is reported (returned warnings) but does not block the campaign — failover
        for it would then fail with TEMPLATE_NOT_FOUND, which the sender records as a permanent failure."""
        seen: set[str] = set()
        warnings: list[str] = []
        for spec in specs:
            if spec.content is None or spec.name in seen:
                continue
            seen.add(spec.name)
            for index, region in enumerate(regions):
                try:
                    self._create(region, spec)
                except TemplateSyncError as exc:
                    if index == 0 or isinstance(exc, TemplateConflictError):
                        raise
                    warnings.append(f"{exc} (failover to {region} will not find this template)")
        return warnings

    def _create(self, region: str, spec: TemplateSpec) -> None:
        client = self._ses(region)
        assert spec.content is not None
        try:
            self.calls += 1
            client.create_email_template(TemplateName=spec.name, TemplateContent=spec.content)
            return
        except Exception as exc:
            if _error_code(exc) != "AlreadyExistsException":
                raise self._wrap(region, spec, exc) from exc
        # It exists. Ours (an earlier attempt of this very submission, whose response may have been lost) has the
        # same content: done. Anything else is not ours to overwrite.
        try:
            self.calls += 1
            existing = client.get_email_template(TemplateName=spec.name).get("TemplateContent") or {}
        except Exception as exc:
            raise self._wrap(region, spec, exc) from exc
        if _content(existing) != _content(spec.content):
            log.error("SES template exists with other content", extra={"region": region, "template": spec.name})
            raise TemplateConflictError(
                f"SES {region} already has a template named {spec.name} with other content; it is never "
                "overwritten: submit the campaign under a new campaign_id"
            )

    @staticmethod
    def _wrap(region: str, spec: TemplateSpec, exc: Exception) -> TemplateSyncError:
        code = _error_code(exc)
        retryable = code not in ("BadRequestException", "LimitExceededException") or code == "TooManyRequestsException"
        log.error("SES template create failed", extra={"region": region, "template": spec.name, "code": code})
        return TemplateSyncError(f"SES {region} rejected template {spec.name}: {code}", retryable=retryable)


def _content(content: dict[str, Any]) -> dict[str, str]:
    """A template's Subject / Html / Text as comparable strings (absent and empty are the same)."""
    return {key: str(content[key]) for key in ("Subject", "Html", "Text") if content.get(key)}
