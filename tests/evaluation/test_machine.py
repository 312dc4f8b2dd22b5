"""What a benchmark records of its machine, and when two records may share a table."""

from __future__ import annotations

from pathlib import Path

from fusionrec.evaluation.machine import SAME_FIGURES_KEYS, cpu_name, machine_differences, machine_info


def test_machine_info_names_the_cpu_its_cores_the_product_and_torch() -> None:
    info = machine_info()
    assert set(SAME_FIGURES_KEYS) <= set(info)
    assert info["cores"] >= 1 and isinstance(info["bf16_product"], bool) and info["cpu"]


def test_cpu_name_reads_the_first_model_name_of_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: AMD EPYC 9B14\nprocessor\t: 1\nmodel name\t: other\n")
    assert cpu_name(cpuinfo) == "AMD EPYC 9B14"


def test_cpu_name_falls_back_to_the_platform_without_cpuinfo(tmp_path: Path) -> None:
    assert cpu_name(tmp_path / "missing")


def test_runs_differ_on_cpu_product_or_torch_but_not_on_cores() -> None:
    here = {"cpu": "A", "cores": 2, "bf16_product": True, "torch": "2.13.0"}
    assert machine_differences(here, {**here, "cores": 16}) == []
    assert machine_differences(here, {**here, "cpu": "B", "torch": "2.12"}) == ["cpu: A -> B", "torch: 2.13.0 -> 2.12"]
    assert machine_differences(None, here) and machine_differences({}, here)


def test_docstring_examples_run() -> None:
    import doctest

    from fusionrec.evaluation import machine

    assert doctest.testmod(machine).failed == 0
