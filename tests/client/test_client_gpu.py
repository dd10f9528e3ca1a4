"""GPU jobs: parsing real nvidia-smi and NVML answers, sampling, and steps that ask for GPUs.

This machine has no GPU. The nvidia-smi text below is what the driver prints
for these queries (an H200 host, driver 550.90.07, CUDA 12.4: memory.total
143771 MiB is the H200's 150754820096 bytes); the NVML tests replace only the
``pynvml`` module with one that returns recorded values, and the parsing code
under test is the real one.
"""

from __future__ import annotations

import subprocess
import sys
import types

import pytest
from client_support import execution, props

import mlineage
from mlineage.integrations import gpu

H200_BYTES = 150754820096
QUERY_H200 = (
    "0, GPU-5a8e2c3f-91d4-4b7e-a0c6-2f1e9d8b7c6a, NVIDIA H200, 550.90.07, 143771, 81234, 62080, 97, 61, 54, "
    "612.35, 700.00, 00000000:19:00.0, 9.0\n"
    "1, GPU-c4b3a291-7e6d-4f5c-8b9a-0d1e2f3a4b5c, NVIDIA H200, 550.90.07, 143771, 1, 143312, 0, 0, 31, "
    "75.82, 700.00, 00000000:3B:00.0, 9.0\n"
)
QUERY_NOT_SUPPORTED = "0, GPU-0f1e2d3c-4b5a-6978-8a9b-acbdcedf0011, NVIDIA GeForce RTX 3090, 535.183.01, 24576, " \
                      "[N/A], [N/A], [Not Supported], [Not Supported], 45, [N/A], [N/A], 00000000:01:00.0, 8.6\n"
BANNER = """Thu Nov 28 10:12:44 2026
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 550.90.07              Driver Version: 550.90.07      CUDA Version: 12.4     |
|-----------------------------------------+------------------------+----------------------+
| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |
| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |
|=========================================+========================+======================|
|   0  NVIDIA H200                    On  |   00000000:19:00.0 Off |                    0 |
| N/A   54C    P0            612W /  700W |   81234MiB / 143771MiB |     97%      Default |
+-----------------------------------------+------------------------+----------------------+
"""
OLD_DRIVER_ERROR = 'Field "compute_cap" is not a valid field to query.\n\n'


def smi(answers: dict[str, str], failing: dict[str, tuple[int, str]] | None = None):
    """An nvidia-smi runner answering each query (by its --query-gpu value, "" for the banner) with recorded text."""
    calls = []

    def run(args):
        calls.append(args)
        query = next((a.split("=", 1)[1] for a in args if a.startswith("--query-gpu=")), "")
        if failing and query in failing:
            code, text = failing[query]
            return subprocess.CompletedProcess(args, code, text, "")
        return subprocess.CompletedProcess(args, 0, answers[query], "")

    run.calls = calls
    return run


def test_query_gpu_csv_parses_devices_in_bytes_with_missing_values_as_none():
    devices = gpu.parse_query_gpu_csv(QUERY_H200)
    assert [d.index for d in devices] == [0, 1]
    first = devices[0]
    assert first.name == "NVIDIA H200" and first.uuid.startswith("GPU-5a8e")
    assert first.memory_total_bytes == H200_BYTES
    assert first.memory_used_bytes == 81234 * 1024 * 1024
    assert first.compute_capability == "9.0" and first.pci_bus_id == "00000000:19:00.0"
    assert first.utilization_gpu_pct == 97 and first.power_draw_w == pytest.approx(612.35)
    [geforce] = gpu.parse_query_gpu_csv(QUERY_NOT_SUPPORTED)
    assert geforce.memory_used_bytes is None and geforce.utilization_gpu_pct is None
    assert geforce.power_draw_w is None and geforce.memory_total_bytes == 24576 * 1024 * 1024


def test_cuda_version_comes_from_the_banner_and_from_nvmls_integer():
    assert gpu.parse_cuda_version(BANNER) == "12.4"
    assert gpu.parse_cuda_version("no such line") is None
    assert gpu.cuda_version_from_int(12040) == "12.4" and gpu.cuda_version_from_int(11080) == "11.8"


def test_nvidia_smi_fallback_reads_devices_driver_and_cuda():
    runner = smi({",".join(gpu.QUERY_FIELDS): QUERY_H200, "": BANNER})
    info = gpu.probe(nvml=_missing_library_nvml(), smi_runner=runner, environ={})
    assert info.available and info.source == "nvidia-smi"
    assert info.driver_version == "550.90.07" and info.cuda_driver_version == "12.4"
    assert [d.name for d in info.devices] == ["NVIDIA H200", "NVIDIA H200"]


def test_nvidia_smi_without_compute_cap_asks_again_without_it():
    without = tuple(f for f in gpu.QUERY_FIELDS if f != "compute_cap")
    old_row = QUERY_H200.splitlines()[0].rsplit(",", 1)[0] + "\n"
    runner = smi({",".join(without): old_row, "": BANNER},
                 failing={",".join(gpu.QUERY_FIELDS): (2, OLD_DRIVER_ERROR)})
    info = gpu.probe_nvidia_smi(runner)
    assert info.available and info.devices[0].compute_capability is None
    assert info.devices[0].pci_bus_id == "00000000:19:00.0"


def test_cuda_visible_devices_limits_the_devices_by_index_or_uuid():
    runner = smi({",".join(gpu.QUERY_FIELDS): QUERY_H200, "": BANNER})
    assert [d.index for d in gpu.probe(nvml=_missing_library_nvml(), smi_runner=runner,
                                       environ={"CUDA_VISIBLE_DEVICES": "1"}).devices] == [1]
    by_uuid = gpu.probe(nvml=_missing_library_nvml(), smi_runner=runner,
                        environ={"CUDA_VISIBLE_DEVICES": "GPU-c4b3a291"})
    assert [d.index for d in by_uuid.devices] == [1]
    hidden = gpu.probe(nvml=_missing_library_nvml(), smi_runner=runner, environ={"CUDA_VISIBLE_DEVICES": ""})
    assert not hidden.available and hidden.devices == [] and "no device is visible" in hidden.reason


# --- NVML: only the module boundary is replaced, with recorded answers --------------------------------


class _NVMLError(Exception):
    pass


class _LibraryNotFound(_NVMLError):
    pass


class _NotSupported(_NVMLError):
    pass


def _missing_library_nvml():
    """What nvidia-ml-py does on a machine without libnvidia-ml.so.1."""
    module = types.SimpleNamespace(NVMLError=_NVMLError, NVMLError_LibraryNotFound=_LibraryNotFound)

    def init():
        raise _LibraryNotFound("NVML Shared Library Not Found")

    module.nvmlInit = init
    return module


def recorded_nvml(utilization=(97, 88, 91), used=(81234 << 20, 90000 << 20, 85000 << 20), legacy_bytes=False):
    """A pynvml module answering as nvidia-ml-py 13 does on one H200 (old bindings returned bytes)."""
    samples = {"utilization": list(utilization), "used": list(used)}
    text = (lambda s: s.encode()) if legacy_bytes else (lambda s: s)
    module = types.ModuleType("pynvml")
    module.NVMLError = _NVMLError
    module.NVMLError_NotSupported = _NotSupported
    module.nvmlInit = lambda: None
    module.nvmlShutdown = lambda: None
    module.nvmlSystemGetDriverVersion = lambda: text("550.90.07")
    module.nvmlSystemGetCudaDriverVersion = lambda: 12040
    module.nvmlDeviceGetCount = lambda: 1
    module.nvmlDeviceGetHandleByIndex = lambda index: f"handle-{index}"
    module.nvmlDeviceGetName = lambda handle: text("NVIDIA H200")
    module.nvmlDeviceGetUUID = lambda handle: text("GPU-5a8e2c3f-91d4-4b7e-a0c6-2f1e9d8b7c6a")
    module.nvmlDeviceGetCudaComputeCapability = lambda handle: (9, 0)
    module.nvmlDeviceGetPciInfo = lambda handle: types.SimpleNamespace(busId=b"00000000:19:00.0")

    def memory(handle):
        current = samples["used"][0] if len(samples["used"]) == 1 else samples["used"].pop(0)
        return types.SimpleNamespace(total=H200_BYTES, used=current, free=H200_BYTES - current)

    def rates(handle):
        current = samples["utilization"][0] if len(samples["utilization"]) == 1 else samples["utilization"].pop(0)
        return types.SimpleNamespace(gpu=current, memory=40)

    def power_limit(handle):
        raise _NotSupported("Not Supported")

    module.nvmlDeviceGetMemoryInfo = memory
    module.nvmlDeviceGetUtilizationRates = rates
    module.nvmlDeviceGetEnforcedPowerLimit = power_limit
    return module


@pytest.mark.parametrize("legacy_bytes", [False, True])
def test_nvml_probe_reads_identity_memory_and_versions(legacy_bytes):
    info = gpu.probe(nvml=recorded_nvml(legacy_bytes=legacy_bytes), environ={})
    assert info.available and info.source == "nvml"
    assert info.driver_version == "550.90.07" and info.cuda_driver_version == "12.4"
    [device] = info.devices
    assert device.name == "NVIDIA H200" and device.uuid == "GPU-5a8e2c3f-91d4-4b7e-a0c6-2f1e9d8b7c6a"
    assert device.memory_total_bytes == H200_BYTES and device.compute_capability == "9.0"
    assert device.pci_bus_id == "00000000:19:00.0" and device.power_limit_w is None  # NotSupported: skipped


def test_without_nvml_library_or_nvidia_smi_the_job_has_no_gpu(monkeypatch):
    monkeypatch.setattr(gpu.shutil, "which", lambda name: None)
    info = gpu.probe(nvml=_missing_library_nvml(), environ={})
    assert not info.available and info.devices == []
    assert info.reason == "_LibraryNotFound; nvidia-smi not found"
    assert info.as_dict()["available"] is False


def test_the_real_binding_without_a_driver_reports_library_not_found(monkeypatch):
    pynvml = pytest.importorskip("pynvml")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        pass
    else:  # pragma: no cover - a machine with a GPU
        pytest.skip("this machine has NVML")
    monkeypatch.setattr(gpu.shutil, "which", lambda name: None)
    info = gpu.probe(environ={})
    assert not info.available and "NVMLError" in info.reason


def test_sampler_keeps_mean_and_peak_per_device_and_gpu_hours():
    info = gpu.probe(nvml=recorded_nvml(), environ={})
    sampler = gpu.GpuSampler(info, interval=3600, nvml=recorded_nvml())
    sampler._started = 1.0
    for _ in range(3):
        sampler.sample_once()
    usage = sampler.stop()
    device = usage.devices[0].as_dict()
    assert device["samples"] == 3
    assert device["utilization_gpu_pct_mean"] == pytest.approx((97 + 88 + 91) / 3)
    assert device["utilization_gpu_pct_max"] == 97
    assert device["memory_used_bytes_peak"] == 90000 << 20
    assert usage.gpu_hours == pytest.approx(usage.duration_s / 3600)


def test_sampler_through_nvidia_smi_reads_the_sample_query():
    runner = smi({",".join(gpu.QUERY_FIELDS): QUERY_H200, "": BANNER,
                  ",".join(gpu.SAMPLE_FIELDS): "0, 97, 81234\n1, 0, 1\n"})
    info = gpu.probe_nvidia_smi(runner)
    sampler = gpu.GpuSampler(info, interval=0.01, smi_runner=runner).start()
    import time

    time.sleep(0.1)
    usage = sampler.stop()
    assert usage.devices[0].memory_used_peak == 81234 << 20
    assert usage.devices[1].utilization_max == 0
    assert usage.peak_memory_used_bytes == 81234 << 20


def test_a_step_that_asks_for_gpus_on_a_machine_without_records_none_and_runs(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", _missing_library_nvml())
    monkeypatch.setattr(gpu.shutil, "which", lambda name: None)
    url = f"sqlite:///{tmp_path / 'gpu.db'}"
    with mlineage.run("gpu", url=url) as run:
        with run.step("Trainer", gpus=2) as step:
            step.log_metric("loss", 0.5)
    values = props(execution(mlineage.connect(url), step.external_id))
    assert values["gpus_requested"] == 2 and values["gpus_allocated"] == 0
    assert values["gpu"]["available"] is False and "nvidia-smi not found" in values["gpu"]["reason"]
    assert "gpu_hours" not in values


def test_a_step_on_a_gpu_records_devices_usage_and_gpu_hours(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", recorded_nvml(utilization=(50,), used=(1 << 30,)))
    url = f"sqlite:///{tmp_path / 'gpu.db'}"
    with mlineage.run("gpu", url=url) as run:
        with run.step("Trainer", gpus=1, sample_interval=0.01) as step:
            import time

            time.sleep(0.1)
    values = props(execution(mlineage.connect(url), step.external_id))
    assert values["gpus_requested"] == 1 and values["gpus_allocated"] == 1
    device = values["gpu"]["devices"][0]
    assert device["name"] == "NVIDIA H200" and device["memory_total_bytes"] == H200_BYTES
    assert values["gpu"]["driver_version"] == "550.90.07" and values["gpu"]["cuda_driver_version"] == "12.4"
    assert values["gpu_utilization_mean_pct"] == 50 and values["gpu_memory_peak_bytes"] == 1 << 30
    assert 0 < values["gpu_hours"] < 0.01
    assert values["gpu"]["usage"]["devices"]["0"]["samples"] >= 2
