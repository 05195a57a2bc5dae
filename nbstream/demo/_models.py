"""Model listings: OpenAI's ``GET /v1/models`` (Anthropic's shape of it when the request
carries ``anthropic-version``), Gemini's ``GET /v1beta/models`` and Ollama's ``GET /api/tags``."""

from __future__ import annotations

import hashlib
from typing import Any

from ._errors import DemoError
from ._scenarios import SCENARIOS, Scenario

__all__ = ["anthropic_models", "gemini_models", "model_info", "model_list", "ollama_tags"]

_CREATED = 1735689600  # 2025-01-01: fixed, so listings are byte-identical from run to run


def _model(scenario: Scenario) -> dict[str, Any]:
    return {"id": scenario.model, "object": "model", "created": _CREATED, "owned_by": "nbstream-demo",
            "description": scenario.description}


def model_list() -> dict[str, Any]:
    """``GET /v1/models``: one entry per demo model, each with a ``description``."""
    return {"object": "list", "data": [_model(s) for s in SCENARIOS.values()]}


def anthropic_models() -> dict[str, Any]:
    """``GET /v1/models`` as Anthropic answers it (``data[]`` of ``type: model``, one page)."""
    data = [{"type": "model", "id": s.model, "display_name": s.description, "created_at": "2025-01-01T00:00:00Z"}
            for s in SCENARIOS.values()]
    return {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}


def gemini_models() -> dict[str, Any]:
    """``GET /v1beta/models`` as Gemini answers it (``models[]`` named ``models/…``)."""
    return {"models": [{"name": f"models/{s.model}", "displayName": s.description, "inputTokenLimit": 32768,
                        "outputTokenLimit": 8192, "supportedGenerationMethods": ["generateContent"]}
                       for s in SCENARIOS.values()]}


def model_info(model: str) -> dict[str, Any]:
    """``GET /v1/models/{model}``, or a 404 naming the model."""
    scenario = SCENARIOS.get(model)
    if scenario is None:
        raise DemoError(404, f"The model {model!r} does not exist on the nbstream demo endpoint. "
                             "GET /v1/models lists the demo models.", param="model", code="model_not_found")
    return _model(scenario)


def ollama_tags() -> dict[str, Any]:
    """``GET /api/tags``: the demo models as an Ollama installation lists them."""
    models = []
    for scenario in SCENARIOS.values():
        name = f"{scenario.model}:latest"
        models.append({
            "name": name, "model": name, "modified_at": "2025-01-01T00:00:00Z", "size": 0,
            "digest": hashlib.sha256(name.encode()).hexdigest(),
            "details": {"format": "demo", "family": "nbstream-demo", "parameter_size": "0", "quantization_level": ""},
        })
    return {"models": models}
