"""SMART Scheduling Links: free slots published as FHIR R4 bulk files (see service.py)."""
