"""Insurance tests: the runtime's in-process ЕРЗЛ simulator (the demo region plus the patients the tests enrol),
on a clock the tests freeze (``tests.support.insurance``)."""
