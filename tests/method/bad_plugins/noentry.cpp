// A shared library in the plugin folder that is not a Tunebench plugin.
extern "C" __attribute__((visibility("default"))) int something_else()
{
    return 1;
}
