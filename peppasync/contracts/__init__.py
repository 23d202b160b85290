"""The vendors' contracts: what each external API requires, as data with a source URL per fact.

The connectors' tests check every body they build against these, and the sandbox
refuses what they refuse, so the product and its simulators cannot drift apart
from the vendors' documentation together.
"""

from .shapes import ContractProblem, check, contract, contract_names

__all__ = ["ContractProblem", "check", "contract", "contract_names"]
