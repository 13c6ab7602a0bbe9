"""Every platform in the registry passes the shared adapter contract, with the right strength."""

from __future__ import annotations

import pytest

from integrations import REGISTRY
from integrations.base import SecretSource
from tests.integrations.contract import SignedAdapterContract, registry_contracts

CONTRACTS = registry_contracts()


@pytest.mark.parametrize("platform", sorted(REGISTRY))
def test_every_platform_has_a_contract_test(platform):
    assert platform in CONTRACTS, f"tests/integrations/test_{platform}.py defines no contract"


@pytest.mark.parametrize("platform", sorted(REGISTRY))
def test_signing_platforms_pass_the_signed_contract(platform):
    signs = REGISTRY[platform].secret_source is not SecretSource.NONE
    assert issubclass(CONTRACTS[platform], SignedAdapterContract) == signs


@pytest.mark.parametrize("platform", sorted(REGISTRY))
def test_platform_name_is_module_name_and_fixture_folder(platform):
    adapter_class = REGISTRY[platform]
    assert adapter_class.__module__ == f"integrations.{platform}"
    assert adapter_class.platform == platform
    assert adapter_class.__name__.lower() == f"{platform}adapter"
