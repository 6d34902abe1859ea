"""``ChatLunos.profile`` built from the Lunos model catalogue, fetched only when read.

Why lazy: ``BaseChatModel`` resolves profiles in a validator, i.e. at construction, and a
constructor must never make a network call. So the validator receives a
:class:`LazyProfile`: a ``dict`` that stays empty and silent until the constructor has
finished, then fills itself from ``GET /v1/models`` (cached process-wide by
:mod:`lunos_integrations.catalog`) on its first read. When the catalogue is unreachable
the lookup returns ``None`` (with one warning) and the profile stays empty.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["LazyProfile", "profile_from_model_info"]


def profile_from_model_info(info: Any) -> dict[str, Any]:
    """LangChain ``ModelProfile`` keys from a catalogue ``ModelInfo``."""
    profile: dict[str, Any] = {}
    if info.name:
        profile["name"] = info.name
    if info.context_window:
        profile["max_input_tokens"] = int(info.context_window)
    if info.max_output_tokens:
        profile["max_output_tokens"] = int(info.max_output_tokens)
    modalities_in = set(info.input_modalities)
    modalities_out = set(info.output_modalities)
    if modalities_in:
        profile["text_inputs"] = "text" in modalities_in
        profile["image_inputs"] = bool(info.supports_images)
        profile["image_url_inputs"] = bool(info.supports_images)
        profile["pdf_inputs"] = bool(info.supports_pdf)
        profile["audio_inputs"] = bool(info.supports_audio)
        profile["video_inputs"] = bool(info.supports_video)
        profile["image_tool_message"] = bool(info.supports_images)
        profile["pdf_tool_message"] = bool(info.supports_pdf)
    if modalities_out:
        profile["text_outputs"] = "text" in modalities_out
        profile["image_outputs"] = "image" in modalities_out
        profile["audio_outputs"] = "audio" in modalities_out
        profile["video_outputs"] = "video" in modalities_out
    if info.supports_reasoning is not None:
        profile["reasoning_output"] = bool(info.supports_reasoning)
    tools = bool(info.supports_tools)
    profile["tool_calling"] = tools
    profile["tool_choice"] = tools
    profile["tool_call_streaming"] = tools
    profile["structured_output"] = bool(info.supports_structured_output)
    if info.supported_parameters is not None:
        profile["temperature"] = "temperature" in info.supported_parameters
    return profile


class LazyProfile(dict):  # type: ignore[type-arg]
    """A ``dict`` that loads its content on first read once :meth:`arm` was called.

    Before arming (during the constructor, where core's validators inspect the profile)
    it behaves as an empty dict and never loads.
    """

    __slots__ = ("_armed", "_loader")

    def __init__(self, loader: Callable[[], dict[str, Any] | None]) -> None:
        super().__init__()
        self._loader: Callable[[], dict[str, Any] | None] | None = loader
        self._armed = False

    def arm(self) -> None:
        self._armed = True

    @property
    def loaded(self) -> bool:
        """True once the catalogue was consulted (successfully or not)."""
        return self._loader is None

    def _load(self) -> None:
        loader = self._loader
        if loader is None or not self._armed:
            return
        self._loader = None
        try:
            data = loader()
        except Exception:  # a profile is optional; never break the caller
            data = None
        if data:
            super().update(data)

    def __getitem__(self, key: Any) -> Any:
        self._load()
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        self._load()
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self._load()
        return super().__contains__(key)

    def __iter__(self) -> Iterator[Any]:
        self._load()
        return super().__iter__()

    def __len__(self) -> int:
        self._load()
        return super().__len__()

    def keys(self) -> Any:
        self._load()
        return super().keys()

    def values(self) -> Any:
        self._load()
        return super().values()

    def items(self) -> Any:
        self._load()
        return super().items()

    def copy(self) -> dict[str, Any]:
        self._load()
        return dict(super().items())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, dict):
            return False  # e.g. pydantic comparing with the default None: no fetch
        self._load()
        return super().__eq__(other)

    __hash__ = None

    def __deepcopy__(self, memo: dict[int, Any]) -> LazyProfile:
        """Copies stay lazy (copying must not trigger a catalogue fetch)."""
        clone = LazyProfile(self._loader) if self._loader else LazyProfile(lambda: None)
        clone._armed = self._armed
        dict.update(clone, dict.items(self))
        return clone

    def __reduce__(self) -> Any:
        """Pickles as the plain dict loaded so far (a loader closure cannot be pickled)."""
        return (dict, (dict(dict.items(self)),))

    def __repr__(self) -> str:
        """Never loads: reprs show up in logs and error messages, which must not fetch."""
        if self._loader is not None:
            return "{...not loaded yet...}"
        return super().__repr__()
