from nudgeflow.orchestrator.cli import main

main()
