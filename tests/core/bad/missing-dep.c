/* The library missing-lib.so links against; deleted after linking. */
int lily_missing_function(void);
int lily_missing_function(void)
{
    return 0;
}
