"""GPUs of a job: what the machine has (NVML, else ``nvidia-smi``, else none) and how the job used them.

``probe()`` never raises: without NVML's library, a driver or ``nvidia-smi`` it
returns ``GpuInfo(available=False, reason=…)`` and the step runs on. NVML
comes from ``nvidia-ml-py`` (import name ``pynvml``), an optional dependency;
its answers are backwards compatible, ``nvidia-smi``'s CSV is the fallback.
``GpuSampler`` polls utilisation and memory in a background thread and sums
them up (mean/peak, GPU-hours) when stopped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

MIB = 1024 * 1024
SMI_TIMEOUT_S = 10.0
QUERY_FIELDS = (
    "index", "uuid", "name", "driver_version", "memory.total", "memory.used", "memory.free",
    "utilization.gpu", "utilization.memory", "temperature.gpu", "power.draw", "power.limit", "pci.bus_id",
    "compute_cap",
)
SAMPLE_FIELDS = ("index", "utilization.gpu", "memory.used")
_MISSING = {"", "[N/A]", "N/A", "[Not Supported]", "[Unknown Error]", "[Insufficient Permissions]", "[GPU is lost]"}


@dataclass
class GpuDevice:
    index: int
    uuid: str | None = None
    name: str | None = None
    memory_total_bytes: int | None = None
    memory_used_bytes: int | None = None
    compute_capability: str | None = None
    pci_bus_id: str | None = None
    utilization_gpu_pct: float | None = None
    temperature_c: float | None = None
    power_draw_w: float | None = None
    power_limit_w: float | None = None


@dataclass
class GpuInfo:
    """The GPUs a job can see; ``available`` False (with ``reason``) when it has none."""

    available: bool
    source: str | None = None  # "nvml" | "nvidia-smi"
    reason: str | None = None
    driver_version: str | None = None
    cuda_driver_version: str | None = None  # the newest CUDA the driver supports
    devices: list[GpuDevice] = field(default_factory=list)
    visible_devices: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["devices"] = [{k: v for k, v in d.items() if v is not None} for d in data["devices"]]
        return {k: v for k, v in data.items() if v is not None}


# --- parsing ---------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _number(text: str) -> float | None:
    text = text.strip()
    if text in _MISSING or text.startswith("["):
        return None
    try:
        return float(text.split()[0])
    except (ValueError, IndexError):
        return None


def _string(text: str) -> str | None:
    text = text.strip()
    return None if text in _MISSING else text


def parse_query_gpu_csv(text: str, fields: tuple[str, ...] = QUERY_FIELDS) -> list[GpuDevice]:
    """Devices from ``nvidia-smi --query-gpu=<fields> --format=csv,noheader,nounits`` (MiB, %, W, °C)."""
    devices = []
    for line in text.splitlines():
        if not line.strip():
            continue
        values = dict(zip(fields, (part.strip() for part in line.split(",")), strict=False))
        index = _number(values.get("index", ""))
        if index is None:
            continue
        mib_total = _number(values.get("memory.total", ""))
        mib_used = _number(values.get("memory.used", ""))
        devices.append(GpuDevice(
            index=int(index),
            uuid=_string(values.get("uuid", "")),
            name=_string(values.get("name", "")),
            memory_total_bytes=int(mib_total * MIB) if mib_total is not None else None,
            memory_used_bytes=int(mib_used * MIB) if mib_used is not None else None,
            compute_capability=_string(values.get("compute_cap", "")),
            pci_bus_id=_string(values.get("pci.bus_id", "")),
            utilization_gpu_pct=_number(values.get("utilization.gpu", "")),
            temperature_c=_number(values.get("temperature.gpu", "")),
            power_draw_w=_number(values.get("power.draw", "")),
            power_limit_w=_number(values.get("power.limit", "")),
        ))
    return devices


def driver_from_csv(text: str, fields: tuple[str, ...] = QUERY_FIELDS) -> str | None:
    if "driver_version" not in fields:
        return None
    position = fields.index("driver_version")
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) > position and _string(parts[position]):
            return parts[position]
    return None


def parse_cuda_version(banner: str) -> str | None:
    """The "CUDA Version: 12.4" of plain ``nvidia-smi`` output."""
    match = re.search(r"CUDA Version:\s*([0-9]+(?:\.[0-9]+)*)", banner)
    return match.group(1) if match else None


def cuda_version_from_int(value: int) -> str:
    """NVML's ``nvmlSystemGetCudaDriverVersion()`` integer (12040) as "12.4"."""
    return f"{value // 1000}.{(value % 1000) // 10}"


def visible_devices(environ: Mapping[str, str] | None = None) -> str | None:
    """$CUDA_VISIBLE_DEVICES (indices or UUIDs), or None when unset."""
    return (os.environ if environ is None else environ).get("CUDA_VISIBLE_DEVICES")


def filter_visible(devices: list[GpuDevice], visible: str | None) -> list[GpuDevice]:
    """The devices a job may use under CUDA_VISIBLE_DEVICES: NVML and nvidia-smi list every GPU of the host."""
    if visible is None or visible.strip().lower() == "all":
        return devices
    chosen: list[GpuDevice] = []
    for token in (t.strip() for t in visible.split(",")):
        if not token or token.startswith("-"):
            break  # CUDA stops at the first invalid entry
        match = [d for d in devices if token == str(d.index) or (token.startswith("GPU-") and d.uuid
                                                                   and d.uuid.startswith(token))]
        if not match:
            break
        if match[0] not in chosen:
            chosen.append(match[0])
    return chosen


# --- probing ---------------------------------------------------------------------------------------


def _import_nvml():
    import pynvml  # nvidia-ml-py

    return pynvml


def probe_nvml(nvml=None) -> GpuInfo:
    """Ask NVML; raises ImportError without nvidia-ml-py, nvml.NVMLError without a library or driver."""
    nvml = nvml or _import_nvml()
    nvml.nvmlInit()
    try:
        driver = _text(nvml.nvmlSystemGetDriverVersion())
        try:
            cuda = cuda_version_from_int(int(nvml.nvmlSystemGetCudaDriverVersion()))
        except nvml.NVMLError:
            cuda = None
        devices = []
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            device = GpuDevice(index=index)
            device.name = _text(nvml.nvmlDeviceGetName(handle))
            device.uuid = _text(nvml.nvmlDeviceGetUUID(handle))
            reads: tuple[tuple[str, Callable[[Any], Any]], ...] = (
                ("memory", lambda h: nvml.nvmlDeviceGetMemoryInfo(h)),
                ("compute_capability", lambda h: "{}.{}".format(*nvml.nvmlDeviceGetCudaComputeCapability(h))),
                ("pci_bus_id", lambda h: _text(nvml.nvmlDeviceGetPciInfo(h).busId)),
                ("power_limit_w", lambda h: nvml.nvmlDeviceGetEnforcedPowerLimit(h) / 1000.0),
            )
            for attribute, read in reads:
                try:
                    value = read(handle)
                except nvml.NVMLError:  # NotSupported on some parts and under MIG
                    continue
                if attribute == "memory":
                    device.memory_total_bytes = int(value.total)
                    device.memory_used_bytes = int(value.used)
                else:
                    setattr(device, attribute, value)
            devices.append(device)
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception:  # noqa: BLE001
            pass
    return GpuInfo(available=bool(devices), source="nvml", driver_version=driver, cuda_driver_version=cuda,
                   devices=devices, reason=None if devices else "no devices")


def run_nvidia_smi(args: list[str], timeout: float = SMI_TIMEOUT_S) -> subprocess.CompletedProcess:
    return subprocess.run(["nvidia-smi", *args], capture_output=True, text=True, timeout=timeout, check=False)


def probe_nvidia_smi(runner=run_nvidia_smi) -> GpuInfo:
    """Ask ``nvidia-smi`` (CSV query, then the banner for the CUDA version)."""
    fields: tuple[str, ...] = QUERY_FIELDS
    done = runner([f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits"])
    if done.returncode != 0 and "compute_cap" in (done.stdout + done.stderr):
        fields = tuple(f for f in QUERY_FIELDS if f != "compute_cap")  # drivers before R510
        done = runner([f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits"])
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip().splitlines()
        return GpuInfo(available=False, source="nvidia-smi",
                       reason=f"nvidia-smi failed: {reason[0] if reason else done.returncode}")
    devices = parse_query_gpu_csv(done.stdout, fields)
    banner = runner([])
    return GpuInfo(
        available=bool(devices), source="nvidia-smi", reason=None if devices else "no devices",
        driver_version=driver_from_csv(done.stdout, fields),
        cuda_driver_version=parse_cuda_version(banner.stdout) if banner.returncode == 0 else None,
        devices=devices,
    )


def probe(*, nvml=None, smi_runner=None, environ: dict[str, str] | None = None) -> GpuInfo:
    """The GPUs this job can use; never raises."""
    reasons = []
    info: GpuInfo | None = None
    try:
        module = nvml or _import_nvml()
        try:
            info = probe_nvml(module)
        except module.NVMLError as exc:
            reasons.append(type(exc).__name__)
    except ImportError:
        reasons.append("nvidia-ml-py not installed")
    except Exception as exc:  # noqa: BLE001 - a broken binding must not stop the job
        reasons.append(f"NVML: {type(exc).__name__}: {exc}")
    if info is None:
        if smi_runner is None and shutil.which("nvidia-smi") is None:
            reasons.append("nvidia-smi not found")
        else:
            try:
                info = probe_nvidia_smi(smi_runner or run_nvidia_smi)
            except (OSError, subprocess.SubprocessError) as exc:
                reasons.append(f"nvidia-smi: {type(exc).__name__}")
    if info is None:
        info = GpuInfo(available=False, reason="; ".join(reasons))
    visible = visible_devices(environ)
    info.visible_devices = visible
    if info.devices:
        info.devices = filter_visible(info.devices, visible)
        if not info.devices:
            info.available = False
            info.reason = f"no device is visible (CUDA_VISIBLE_DEVICES={visible})"
    return info


def shortfall(requested: int, info: GpuInfo) -> str | None:
    """What to warn about when a job asked for ``requested`` GPUs and ``info`` found fewer; None if it got them."""
    found = len(info.devices)
    if requested <= 0 or found >= requested:
        return None
    if found == 0:
        return (f"asked for {requested} GPU(s) and found none ({info.reason or 'no devices'}); "
                "it runs without GPU accounting")
    return f"asked for {requested} GPU(s) and found {found}; their use is recorded"


# --- sampling --------------------------------------------------------------------------------------


@dataclass
class DeviceUsage:
    samples: int = 0
    utilization_sum: float = 0.0
    utilization_samples: int = 0
    utilization_max: float | None = None
    memory_used_sum: float = 0.0
    memory_samples: int = 0
    memory_used_peak: int | None = None

    def add(self, utilization: float | None, memory_used: int | None) -> None:
        self.samples += 1
        if utilization is not None:
            self.utilization_sum += utilization
            self.utilization_samples += 1
            self.utilization_max = utilization if self.utilization_max is None else max(self.utilization_max,
                                                                                        utilization)
        if memory_used is not None:
            self.memory_used_sum += memory_used
            self.memory_samples += 1
            self.memory_used_peak = memory_used if self.memory_used_peak is None else max(self.memory_used_peak,
                                                                                         memory_used)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"samples": self.samples}
        if self.utilization_samples:
            out["utilization_gpu_pct_mean"] = round(self.utilization_sum / self.utilization_samples, 3)
            out["utilization_gpu_pct_max"] = self.utilization_max
        if self.memory_samples:
            out["memory_used_bytes_mean"] = int(self.memory_used_sum / self.memory_samples)
            out["memory_used_bytes_peak"] = self.memory_used_peak
        return out


@dataclass
class GpuUsage:
    duration_s: float
    devices: dict[int, DeviceUsage]

    @property
    def gpu_hours(self) -> float:
        """Devices held × wall-clock hours."""
        return round(len(self.devices) * self.duration_s / 3600.0, 9)

    @property
    def mean_utilization_pct(self) -> float | None:
        means = [d.utilization_sum / d.utilization_samples for d in self.devices.values() if d.utilization_samples]
        return round(sum(means) / len(means), 3) if means else None

    @property
    def peak_memory_used_bytes(self) -> int | None:
        peaks = [d.memory_used_peak for d in self.devices.values() if d.memory_used_peak is not None]
        return max(peaks) if peaks else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "duration_s": round(self.duration_s, 3),
            "gpu_hours": self.gpu_hours,
            "devices": {str(index): usage.as_dict() for index, usage in sorted(self.devices.items())},
        }


class GpuSampler:
    """Polls the devices of ``info`` every ``interval`` seconds in a daemon thread until ``stop()``."""

    def __init__(self, info: GpuInfo, *, interval: float = 1.0, nvml=None, smi_runner=None) -> None:
        self.info = info
        self.interval = interval
        self._nvml = nvml
        self._smi_runner = smi_runner or run_nvidia_smi
        self._usage = {device.index: DeviceUsage() for device in info.devices}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mlineage-gpu-sampler", daemon=True)
        self._started = 0.0

    def start(self) -> GpuSampler:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def _read_nvml(self, nvml, handles) -> None:
        for index, handle in handles.items():
            utilization = memory = None
            try:
                utilization = float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
            except nvml.NVMLError:
                pass
            try:
                memory = int(nvml.nvmlDeviceGetMemoryInfo(handle).used)
            except nvml.NVMLError:
                pass
            self._usage[index].add(utilization, memory)

    def _read_smi(self) -> None:
        done = self._smi_runner([f"--query-gpu={','.join(SAMPLE_FIELDS)}", "--format=csv,noheader,nounits"])
        if done.returncode != 0:
            return
        for device in parse_query_gpu_csv(done.stdout, SAMPLE_FIELDS):
            if device.index in self._usage:
                self._usage[device.index].add(device.utilization_gpu_pct, device.memory_used_bytes)

    def sample_once(self) -> None:
        """One poll now (the thread calls this; tests may too)."""
        if self.info.source == "nvml":
            nvml = self._nvml or _import_nvml()
            nvml.nvmlInit()
            try:
                self._read_nvml(nvml, {i: nvml.nvmlDeviceGetHandleByIndex(i) for i in self._usage})
            finally:
                nvml.nvmlShutdown()
        else:
            self._read_smi()

    def _run(self) -> None:
        nvml: Any = None
        handles: dict[int, Any] | None = None
        try:
            if self.info.source == "nvml":
                nvml = self._nvml or _import_nvml()
                nvml.nvmlInit()
                handles = {i: nvml.nvmlDeviceGetHandleByIndex(i) for i in self._usage}
            while True:
                try:
                    if handles is not None:
                        self._read_nvml(nvml, handles)
                    else:
                        self._read_smi()
                except Exception:  # noqa: BLE001 - a failed poll is a missing sample, nothing more
                    pass
                if self._stop.wait(self.interval):
                    break
        except Exception:  # noqa: BLE001
            return
        finally:
            if handles is not None:
                try:
                    nvml.nvmlShutdown()
                except Exception:  # noqa: BLE001
                    pass

    def stop(self) -> GpuUsage:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=SMI_TIMEOUT_S + 1)
        return GpuUsage(duration_s=time.monotonic() - self._started if self._started else 0.0,
                        devices=self._usage)


__all__ = ["GpuDevice", "GpuInfo", "GpuSampler", "GpuUsage", "parse_cuda_version", "parse_query_gpu_csv", "probe",
           "shortfall"]
