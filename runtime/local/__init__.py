"""Local stack: moto provisioning, SES event simulator, SNS delivery, demo runner. Never shipped to Lambda."""
