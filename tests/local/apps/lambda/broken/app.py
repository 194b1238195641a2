import not_installed_anywhere  # noqa: F401  (init fails: Runtime.ImportModuleError)


def handler(event, context):
    return "unreachable"
