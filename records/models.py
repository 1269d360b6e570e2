"""Governed health records (Beneficiary, AccessEvent) arrive with their own issue."""
