"""Language-model cost: tokens/s of each local path, item profiles per minute, and the cached second run.

Usage::

    FUSIONREC_DATA=../shared/data python benchmarks/language_models.py [--items 50] [--threads 1] [--skip-transformers]
    FUSIONREC_DATA=../shared/data python benchmarks/language_models.py --model gemma3-270m --items 5 --show-profiles

Prints, for a packaged GGUF (``--model``, default SmolLM2-135M-Instruct; the server and transformers
paths run SmolLM2 only):

* tokens/s of free-text generation with llama.cpp (``LlamaCppGenerator``), through
  ``OpenAIGenerator`` to llama-cpp-python's server on loopback (client CPU time is not
  the server's, so none is printed), and with
  transformers loading the same GGUF file (``gguf_file=``, dequantised to float32),
  each after loading (load time printed apart), greedy, the same prompts;
* item profiles per minute for the first ``--items`` items of ml100k-mm
  (structured output, one request per item, a fresh cache), then the same run
  again from the cache and the speed-up.

CPU time (process time) is printed beside wall time, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import functools
import os
import tempfile
import time
from pathlib import Path
from typing import Any

PROMPTS = [
    "Describe the film Toy Story in three sentences.",
    "Write a short review of a science fiction novel.",
    "Explain why people enjoy heist movies.",
]


def llama_cpp_speed(threads: int | None, max_tokens: int, model: str = "smollm2") -> dict[str, float]:
    from fusionrec.llm import GenerationRequest, LlamaCppGenerator

    generator = LlamaCppGenerator(model, n_threads=threads)
    started = time.perf_counter()
    generator.load()
    load_s = time.perf_counter() - started
    requests = [GenerationRequest(f"p{i}", p, max_tokens=max_tokens) for i, p in enumerate(PROMPTS)]
    wall, cpu = time.perf_counter(), time.process_time()
    results = generator.generate(requests)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    tokens = sum(r.completion_tokens for r in results)
    generator.close()
    return {"load_s": load_s, "tokens": tokens, "wall_s": wall, "cpu_s": cpu, "tokens_per_s": tokens / wall}


def server_speed(threads: int | None, max_tokens: int) -> dict[str, float]:
    """The same prompts through ``OpenAIGenerator`` to llama-cpp-python's server on loopback (one at a time)."""
    import socket
    import subprocess
    import sys

    import httpx

    from fusionrec.llm import GenerationRequest, OpenAIGenerator, resolve_gguf

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(resolve_gguf("smollm2")), "--port", str(port)]
    command += ["--host", "127.0.0.1"] + (["--n_threads", str(threads)] if threads else [])
    started = time.perf_counter()
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as server:
        try:
            url = f"http://127.0.0.1:{port}"
            while True:
                try:
                    httpx.get(f"{url}/v1/models", timeout=2.0).raise_for_status()
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            load_s = time.perf_counter() - started
            requests = [GenerationRequest(f"p{i}", p, max_tokens=max_tokens) for i, p in enumerate(PROMPTS)]
            with OpenAIGenerator(url, "smollm2", workers=1, timeout=300) as generator:
                wall = time.perf_counter()
                results = generator.generate(requests)
                wall = time.perf_counter() - wall
        finally:
            server.terminate()
    tokens = sum(r.completion_tokens for r in results)
    return {"load_s": load_s, "tokens": tokens, "wall_s": wall, "cpu_s": float("nan"), "tokens_per_s": tokens / wall}


def transformers_speed(threads: int | None, max_tokens: int) -> dict[str, float]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from fusionrec.encoders.text import go_offline, quiet_hf
    from fusionrec.llm import resolve_gguf

    go_offline()
    quiet_hf()
    if threads:
        torch.set_num_threads(threads)
    path = resolve_gguf("smollm2")
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name).eval()
    load_s = time.perf_counter() - started
    tokens, wall, cpu = 0, time.perf_counter(), time.process_time()
    for prompt in PROMPTS:
        messages = [{"role": "user", "content": prompt}]
        inputs = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )  # input_ids (1, prompt tokens)
        with torch.inference_mode():
            output = model.generate(**inputs, max_new_tokens=max_tokens, do_sample=False)
        tokens += output.shape[1] - inputs["input_ids"].shape[1]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"load_s": load_s, "tokens": tokens, "wall_s": wall, "cpu_s": cpu, "tokens_per_s": tokens / wall}


def profile_speed(data: Path, n_items: int, threads: int | None, model: str = "smollm2") -> dict[str, Any]:
    from fusionrec.encoders.loading import read_items
    from fusionrec.llm import GenerationCache, LlamaCppGenerator, profile_items

    dataset = read_items(data / "ml100k-mm")
    wanted = [str(i) for i in dataset.items.ids[:n_items]]
    with tempfile.TemporaryDirectory() as folder:
        cache = GenerationCache(Path(folder) / "generations.sqlite")
        with LlamaCppGenerator(model, n_threads=threads, cache=cache) as generator:
            generator.load()
            cpu = time.process_time()
            first = profile_items(dataset, generator, items=wanted)
            first_cpu = time.process_time() - cpu
            second = profile_items(dataset, generator, items=wanted)
    return {
        "wanted": wanted,
        "first": first,
        "first_cpu_s": first_cpu,
        "second": second,
        "speedup": first.seconds / max(second.seconds, 1e-9),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--skip-transformers", action="store_true")
    parser.add_argument("--skip-profiles", action="store_true")
    parser.add_argument("--model", default="smollm2", help="packaged model or .gguf path for the in-process runs")
    parser.add_argument("--show-profiles", action="store_true", help="print each profile's text")
    args = parser.parse_args()
    print(f"model {args.model}; load average {os.getloadavg()[0]:.1f}", flush=True)
    paths = [("llama.cpp", functools.partial(llama_cpp_speed, model=args.model))]
    if args.model == "smollm2":
        paths += [("llama.cpp server", server_speed), ("transformers+gguf", transformers_speed)]
    for name, measure in paths:
        if name.startswith("transformers") and args.skip_transformers:
            continue
        r = measure(args.threads, args.max_tokens)
        print(
            f"{name:18s} load {r['load_s']:.1f} s | {r['tokens']:.0f} tokens in {r['wall_s']:.1f} s wall "
            f"({r['cpu_s']:.1f} s CPU): {r['tokens_per_s']:.1f} tokens/s",
            flush=True,
        )
    if args.skip_profiles:
        return
    data = Path(os.environ.get("FUSIONREC_DATA", "../shared/data"))
    result = profile_speed(data, args.items, args.threads, args.model)
    for label in ("first", "second"):
        print(f"{label} run: " + "\n  ".join(result[label].lines()), flush=True)
    if args.show_profiles:
        for item, profile in result["first"].profiles.items():
            print(f"item {item}: {profile.text()}")
        for item in result["wanted"]:
            if item in result["first"].failures:
                print(f"item {item}: no profile ({result['first'].failures[item]})")
    print(f"first run CPU {result['first_cpu_s']:.1f} s; second run from the cache {result['speedup']:,.0f}x faster")


if __name__ == "__main__":
    main()
