"""Training precision decided by what the hardware has (``train.bf16: auto | true | false``).

bf16 pays only where the hardware computes it: a CUDA device with bf16, or a CPU with native
bf16 (AVX512-BF16 or AMX). On a CPU without it (e.g. AVX2 only) torch *emulates* bf16 autocast,
about 13x slower than fp32 (RESULTS.md, "The same result on any machine"): ``auto`` then
trains in fp32, and an explicit ``true`` is kept but warned about with the cost measured here.

>>> cpu = CpuInfo(model="AMD EPYC", capability="AVX2", avx512_bf16=False, amx=False, onednn_isa=None)
>>> decide("auto", cuda=False, cuda_bf16=False, cpu=cpu).bf16
False
>>> decide("auto", cuda=False, cuda_bf16=False, cpu=CpuInfo("x", "AVX512", True, False, None)).bf16
True
"""
from __future__ import annotations

import dataclasses
import os
import platform
import time
from dataclasses import dataclass

# oneDNN ISA caps (ONEDNN_MAX_CPU_ISA) that still include native bf16 dot products
_ONEDNN_BF16 = {"AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX512_CORE_AMX", "AVX512_CORE_AMX_FP16",
                "AVX10_1_512", "AVX10_1_512_AMX", "AVX10_1_512_AMX_FP16", "AVX10_2_512", "AVX10_2_512_AMX_2",
                "DEFAULT", "ALL"}


@dataclass(frozen=True)
class CpuInfo:
    """What decides CPU speed: the model name, torch's kernel capability (``AVX2``, ``AVX512``, …;
    ``ATEN_CPU_CAPABILITY`` lowers it), native bf16 (AVX512-BF16, AMX) and a oneDNN ISA cap."""

    model: str
    capability: str
    avx512_bf16: bool
    amx: bool
    onednn_isa: str | None

    @property
    def native_bf16(self) -> bool:
        if self.onednn_isa and self.onednn_isa.upper() not in _ONEDNN_BF16:
            return False
        return self.capability.upper().startswith(("AVX512", "AMX")) and (self.avx512_bf16 or self.amx)

    def describe(self) -> str:
        """One line, e.g. ``AMD EPYC, AVX512 with native bf16``."""
        feats = "native bf16" if self.native_bf16 else "no native bf16"
        cap = f", oneDNN capped at {self.onednn_isa}" if self.onednn_isa else ""
        return f"{self.model}, {self.capability} with {feats}{cap}"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def probe_cpu() -> CpuInfo:
    """This machine's :class:`CpuInfo` (torch's own probes)."""
    import torch

    flag = lambda name: bool(getattr(torch.cpu, name, lambda: False)())   # noqa: E731
    return CpuInfo(model=cpu_model(), capability=str(torch.backends.cpu.get_cpu_capability()),
                   avx512_bf16=flag("_is_avx512_bf16_supported"), amx=flag("_is_amx_tile_supported"),
                   onednn_isa=os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA"))


@dataclass(frozen=True)
class Precision:
    bf16: bool
    reason: str               # one line: what was chosen and why
    warning: str | None = None
    cpu: str | None = None    # CpuInfo.describe() when training on the CPU


def decide(setting, *, cuda: bool, cuda_bf16: bool, cpu: CpuInfo | None) -> Precision:
    """The precision for ``train.bf16`` on this hardware (pure: the probes are arguments).

    >>> avx2 = CpuInfo("AMD EPYC", "AVX2", False, False, None)
    >>> p = decide(True, cuda=False, cuda_bf16=False, cpu=avx2)
    >>> p.bf16, p.warning is not None
    (True, True)
    >>> decide("auto", cuda=True, cuda_bf16=True, cpu=avx2).reason
    'bf16 (auto: CUDA device with bf16)'
    """
    if setting is False:
        return Precision(False, "fp32 (bf16: false)", cpu=None if cuda or cpu is None else cpu.describe())
    if cuda:
        if setting == "auto":
            return Precision(bool(cuda_bf16), "bf16 (auto: CUDA device with bf16)" if cuda_bf16
                             else "fp32 (auto: this CUDA device has no bf16)")
        return Precision(True, "bf16 (bf16: true, CUDA)")
    where = cpu.describe() if cpu else "CPU"
    native = bool(cpu and cpu.native_bf16)
    if setting == "auto":
        return Precision(native, f"{'bf16' if native else 'fp32'} (auto: {where})", cpu=where)
    if native:
        return Precision(True, f"bf16 (bf16: true; {where})", cpu=where)
    return Precision(True, f"bf16 (bf16: true; {where})", cpu=where,
                     warning=f"bf16: true on a CPU without native bf16 ({where}): autocast is emulated; "
                             "bf16: auto would train in fp32")


def emulation_cost(seconds: float = 0.4) -> float:
    """How many times slower a small fp32 MLP's forward+backward runs under CPU bf16 autocast than
    in fp32, measured here in about ``seconds`` (>1 = bf16 slower)."""
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(256, 512), torch.nn.ReLU(), torch.nn.Linear(512, 256))
    x = torch.randn(64, 256)

    def rate(bf16: bool) -> float:
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds / 2 or n < 3:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                net(x).float().sum().backward()
            n += 1
        return n / (time.perf_counter() - t0)

    rate(False)                                   # warm-up
    return rate(False) / max(rate(True), 1e-9)


def use_bf16(setting) -> bool:
    """``true``/``false`` as given; ``"auto"`` by :func:`resolve` (the embedder's switch)."""
    return resolve(setting).bf16 if setting == "auto" else bool(setting)


def resolve(setting) -> Precision:
    """:func:`decide` on this machine; an emulated ``true`` gets its measured cost in the warning."""
    import torch

    cuda = torch.cuda.is_available()
    p = decide(setting, cuda=cuda, cuda_bf16=bool(cuda and torch.cuda.is_bf16_supported()),
               cpu=None if cuda else probe_cpu())
    if p.warning:
        try:
            cost = f"emulated ({emulation_cost():.1f}x slower than fp32 in a quick probe here)"
        except Exception:                         # pragma: no cover - the probe is best effort
            cost = "emulated"
        p = dataclasses.replace(p, warning=p.warning.replace("emulated", cost, 1))
    return p
