/* The link check's entry point: the module's archive is linked whole around it
 * (see gcs_module() in CMakeLists.txt), so this program is never run. */
int main(void);
int main(void) { return 0; }
