"""Which chat template formats a local model's chats, and what Gemma 3's template writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fusionrec.llm.base import LLMError
from fusionrec.llm.local import FILE_TEMPLATE_KEY, LlamaCppGenerator, _token_id, choose_chat_template
from fusionrec.llm.models import GEMMA3_CHAT, ChatTemplate, declared_chat_template

CUSTOM = ChatTemplate("custom.v1", "{{ bos_token }}{{ messages[0]['content'] }}", "<s>", ("</s>",))
WITH_TEMPLATE = {FILE_TEMPLATE_KEY: "{{ messages }}"}


def test_the_files_own_template_wins_over_a_declared_one() -> None:
    assert choose_chat_template(WITH_TEMPLATE, GEMMA3_CHAT) is None


def test_a_declared_template_is_used_when_the_file_carries_none() -> None:
    assert choose_chat_template({}, GEMMA3_CHAT) is GEMMA3_CHAT
    assert choose_chat_template({FILE_TEMPLATE_KEY: ""}, GEMMA3_CHAT) is GEMMA3_CHAT


def test_an_explicit_template_wins_over_the_files() -> None:
    assert choose_chat_template(WITH_TEMPLATE, GEMMA3_CHAT, CUSTOM) is CUSTOM


def test_a_file_without_any_template_is_an_error_naming_the_fix() -> None:
    with pytest.raises(LLMError, match=r"no chat template.*chat_template=ChatTemplate"):
        choose_chat_template({"general.name": "x"}, None)


def test_packaged_entries_declare_a_template_only_where_the_file_has_none() -> None:
    assert declared_chat_template("gemma3-270m") is GEMMA3_CHAT
    assert declared_chat_template("smollm2") is None
    assert declared_chat_template("/models/any.gguf") is None


def test_the_template_name_is_part_of_the_model_id(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF" + bytes(60))
    plain, custom = LlamaCppGenerator(str(path)), LlamaCppGenerator(str(path), chat_template=CUSTOM)
    assert plain.model_id.startswith("llama.cpp:m-") and "+" not in plain.model_id
    assert custom.model_id == plain.model_id + "+custom.v1"


def test_gemma3_puts_the_system_message_in_the_first_user_turn() -> None:
    chat_format = pytest.importorskip("llama_cpp.llama_chat_format", reason="needs llama-cpp-python")
    formatter = chat_format.Jinja2ChatFormatter(GEMMA3_CHAT.source, "<end_of_turn>", GEMMA3_CHAT.bos_token)
    messages = [
        {"role": "system", "content": "Be brief. "},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Again"},
    ]
    assert formatter(messages=messages).prompt == (
        "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello<end_of_turn>\n"
        "<start_of_turn>user\nAgain<end_of_turn>\n<start_of_turn>model\n"
    )
    with pytest.raises(ValueError, match="alternate"):
        formatter(messages=[{"role": "assistant", "content": "Hello"}])


class _Vocabulary:
    def tokenize(self, text: bytes, add_bos: bool, special: bool) -> list[int]:
        return [106] if text == b"<end_of_turn>" else [1, 2, 3]


def test_a_stop_token_must_be_one_token() -> None:
    vocabulary: Any = _Vocabulary()
    assert _token_id(vocabulary, "<end_of_turn>") == 106
    with pytest.raises(LLMError, match="'<eot>' is 3 tokens"):
        _token_id(vocabulary, "<eot>")
