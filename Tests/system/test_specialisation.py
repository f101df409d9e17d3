"""The release binaries run the engine and the applications specialised for
DPDKQueue. A call cycle among engine functions the core loop reaches (found in
the IPv6 work: routeIPv6 -> sendNeighborSolicitation -> ... -> routeIPv6) makes
cross-module optimisation give up on everything above it, silently: the
appliance then runs generic code with run-time metadata lookups, ~46% more
instructions per short transaction. Nothing else fails, so this checks the
symbols."""

import shutil
import subprocess

import pytest

from conftest import HTTPD, LOADGEN

DEMANGLE = shutil.which("swift-demangle") or "/opt/swift/usr/bin/swift-demangle"


def demangled_symbols(binary):
    symbols = subprocess.run(["nm", str(binary)], capture_output=True, text=True, check=True).stdout
    return subprocess.run([DEMANGLE], input=symbols, capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("binary, application", [
    (HTTPD, "mtcp_httpd.Appliance<MTCPDPDK.DPDKQueue>"),
    (LOADGEN, "mtcp_loadgen.HTTPLoad<MTCPDPDK.DPDKQueue>"),
])
def test_the_core_loop_is_specialised_for_dpdk(binary, application):
    wanted = f"generic specialization <{application}> of MTCPRuntime.runCore<"
    assert any(wanted in line for line in demangled_symbols(binary).splitlines()), \
        f"{binary.name}: runCore is not specialised for {application}"
