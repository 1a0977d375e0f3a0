/* evatok/evatok.h on its own, as plain C99 (built with -std=c99 -pedantic-errors). */
#include "evatok/evatok.h"

int main(void)
{
    EvatokOpenOptions oo;
    EvatokEncodeOptions eo;
    (void)oo;
    (void)eo;
    return EVATOK_API_VERSION > 0 ? 0 : 1;
}
